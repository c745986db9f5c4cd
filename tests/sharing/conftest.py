"""Fixtures of the knowledge-object API tests: indicators to link, objects made through the
API, and what the audit log recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import AuditLog
from krsn.indicators.models import ThreatIndicator

ACTORS = "/api/v1/threat-actors"
CAMPAIGNS = "/api/v1/threat-campaigns"
COLLECTIONS = "/api/v1/ioc-collections"
REPORTS = "/api/v1/threat-reports"


@pytest.fixture
def seed_indicators(api) -> Callable[..., dict[str, str]]:
    """Ingest indicators with these values from a feed; all indicators' ids by value."""

    def make(*values: str) -> dict[str, str]:
        with api.database.transaction() as session:
            source = ensure_source(session, actor=Actor.system(), name="seed", reliability=90)
        ingest(
            api.database,
            source=source,
            default_confidence=80,
            rows=[ParsedRow(line=i + 1, value=v) for i, v in enumerate(values)],
        )
        with api.database.transaction(readonly=True) as session:
            rows = session.execute(select(ThreatIndicator.indicator_value, ThreatIndicator.id))
            return {value: str(row_id) for value, row_id in rows}

    return make


@pytest.fixture
def audit_actions(api) -> Callable[[str], list[str]]:
    """The actions the audit log holds for a resource type, oldest first."""

    def actions(resource_type: str) -> list[str]:
        with api.database.transaction(readonly=True) as session:
            return list(
                session.scalars(
                    select(AuditLog.action)
                    .where(AuditLog.resource_type == resource_type)
                    .order_by(AuditLog.created_at, AuditLog.id)
                )
            )

    return actions


class Make:
    """Makes knowledge objects through the API, signed in as ``client`` (the test's ``api``
    unless given); each returns the object's JSON, and a refusal fails the test there."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def _post(self, url: str, client: Any, body: dict[str, Any]) -> dict[str, Any]:
        response = (client or self.api).post(url, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def actor(self, name: str, *, client: Any = None, **fields: Any) -> dict[str, Any]:
        """A threat actor named ``name``."""
        return self._post(ACTORS, client, {"actor_name": name, **fields})

    def campaign(self, name: str, *, client: Any = None, **fields: Any) -> dict[str, Any]:
        """A threat campaign named ``name``."""
        return self._post(CAMPAIGNS, client, {"campaign_name": name, **fields})

    def collection(self, name: str, *, client: Any = None, **fields: Any) -> dict[str, Any]:
        """An IOC collection named ``name``."""
        return self._post(COLLECTIONS, client, {"name": name, **fields})

    def report(self, title: str, *, client: Any = None, **fields: Any) -> dict[str, Any]:
        """A threat report titled ``title``."""
        return self._post(REPORTS, client, {"title": title, **fields})


@pytest.fixture
def make(api) -> Make:
    """Knowledge objects made through the API."""
    return Make(api)
