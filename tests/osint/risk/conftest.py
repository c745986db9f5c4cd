"""Fixtures of these tests; the helpers are in ``risk_support``."""

from __future__ import annotations

import pytest
from risk_support import Investigation

from detection_support import add_user
from krsn.db import Database
from krsn.osint.models import Collection, CollectorType, Source


@pytest.fixture
def investigation(db: Database) -> Investigation:
    with db.transaction() as session:
        user_id = add_user(session, "risk-analyst")
        collection = Collection(
            user_id=user_id, name="risk", collector_type=CollectorType.PUBLIC_DB, config={}
        )
        source = Source(name="risk-feed", source_type="csv", reliability_score=None)
        session.add_all([collection, source])
        session.flush()
        return Investigation(db, user_id, collection.id, source.id)
