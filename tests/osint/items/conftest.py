"""Fixtures of these tests; the helpers are in ``item_support``."""

from __future__ import annotations

import pytest
from item_support import Investigation, start_investigation

from krsn.db import Database


@pytest.fixture
def investigation(db: Database) -> Investigation:
    return start_investigation(db)
