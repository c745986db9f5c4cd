"""Threat correlations for analysts: discover them, list and show them, verify and annotate.

Discovery itself is :mod:`krsn.detection.correlations.discovery`; here it is run on
someone's behalf and audited. An analyst changes only the verdict (``is_verified``) and the
notes of a correlation, each change audited with its old and new values; score and evidence
belong to discovery, which never touches the verdict or the notes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.detection.correlations import discovery
from krsn.detection.correlations.discovery import DiscoveryReport, Limits
from krsn.detection.correlations.schemas import (
    CorrelationRead,
    DiscoveryReportRead,
    IndicatorBrief,
)
from krsn.detection.models import CorrelationType, ThreatCorrelation
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.service import get_indicator
from krsn.sharing import knowledge

RESOURCE = "threat_correlation"
EDITABLE = frozenset({"is_verified", "analyst_notes"})
MAX_NOTES = 100_000


def discover(
    session: Session,
    *,
    actor: Actor,
    since: datetime | None = None,
    indicator_ids: Collection[uuid.UUID] | None = None,
    now: datetime | None = None,
    limits: Limits | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> DiscoveryReport:
    """Discover correlations (see :func:`discovery.discover`) and audit the run."""
    report = discovery.discover(
        session,
        indicator_ids=indicator_ids,
        since=since,
        now=now or utcnow(),
        limits=limits,
        on_stage=on_stage,
    )
    details = report.as_dict()
    details["skipped"] = details["skipped"][:10]
    audit.record(
        session,
        actor=actor,
        action=f"{RESOURCE}.discover",
        resource_type=RESOURCE,
        details=details,
    )
    return report


def report_read(report: DiscoveryReport) -> DiscoveryReportRead:
    """A discovery report as the API and ``--json`` show it."""
    return DiscoveryReportRead.model_validate(report.as_dict())


def get_correlation(session: Session, correlation_id: uuid.UUID) -> ThreatCorrelation:
    """The correlation with this id; ``NotFound`` when there is none."""
    row = session.get(ThreatCorrelation, correlation_id)
    if row is None:
        raise NotFound(f"No correlation {correlation_id}: list them with GET /api/v1/correlations.")
    return row


def list_correlations(
    session: Session,
    *,
    correlation_type: CorrelationType | None = None,
    indicator: str | None = None,
    verified: bool | None = None,
    min_score: float | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> PageResult[ThreatCorrelation]:
    """Correlations, newest first, filtered by type, by an indicator on either side (its id
    or value), by the analyst's verdict and by a least score."""
    statement = select(ThreatCorrelation)
    if correlation_type is not None:
        statement = statement.where(ThreatCorrelation.correlation_type == correlation_type)
    if indicator is not None:
        found = get_indicator(session, indicator).id
        statement = statement.where(
            or_(
                ThreatCorrelation.primary_indicator_id == found,
                ThreatCorrelation.related_indicator_id == found,
            )
        )
    if verified is not None:
        statement = statement.where(ThreatCorrelation.is_verified.is_(verified))
    if min_score is not None:
        if not 0 <= min_score <= 100:
            raise Invalid("min_score", "must be between 0 and 100")
        statement = statement.where(ThreatCorrelation.correlation_score >= min_score)
    return paginate(
        session,
        statement,
        order_by=[ThreatCorrelation.discovered_at, ThreatCorrelation.id],
        limit=limit,
        cursor=cursor,
    )


def update_correlation(
    session: Session, *, actor: Actor, correlation_id: uuid.UUID, changes: Mapping[str, Any]
) -> ThreatCorrelation:
    """Set the verdict (``is_verified``) and the notes (``analyst_notes``, None clears them)
    given; audited with the old and new values of what changed."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise Invalid(sorted(unknown)[0], "only is_verified and analyst_notes can be changed")
    if not changes:
        raise Invalid("body", "send is_verified, analyst_notes or both")
    row = get_correlation(session, correlation_id)
    before = audit.snapshot(row)
    if "is_verified" in changes:
        verified = changes["is_verified"]
        if not isinstance(verified, bool):
            raise Invalid("is_verified", "must be true or false")
        row.is_verified = verified
    if "analyst_notes" in changes:
        notes = changes["analyst_notes"]
        if notes is not None and not isinstance(notes, str):
            raise Invalid("analyst_notes", "must be text or null")
        if notes is not None and len(notes) > MAX_NOTES:
            raise Invalid("analyst_notes", f"at most {MAX_NOTES:,} characters")
        row.analyst_notes = notes if notes is None or notes.strip() else None
    knowledge.changed(session, row, actor=actor, resource_type=RESOURCE, before=before)
    return row


def read(session: Session, rows: Sequence[ThreatCorrelation]) -> list[CorrelationRead]:
    """Correlations as the API and the CLI show them, with both indicators' value and type."""
    ids = {r.primary_indicator_id for r in rows} | {r.related_indicator_id for r in rows}
    briefs: dict[uuid.UUID, IndicatorBrief] = {}
    if ids:
        found = session.execute(
            select(
                ThreatIndicator.id, ThreatIndicator.indicator_value, ThreatIndicator.indicator_type
            ).where(ThreatIndicator.id.in_(ids))
        )
        for indicator_id, value, kind in found:
            briefs[indicator_id] = IndicatorBrief(id=indicator_id, value=value, type=kind)
    return [
        CorrelationRead(
            id=row.id,
            correlation_type=row.correlation_type,
            primary_indicator=briefs[row.primary_indicator_id],
            related_indicator=briefs[row.related_indicator_id],
            correlation_score=(
                float(row.correlation_score) if row.correlation_score is not None else None
            ),
            correlation_data=row.correlation_data,
            rule_id=row.rule_id,
            discovered_at=row.discovered_at,
            is_verified=row.is_verified,
            analyst_notes=row.analyst_notes,
        )
        for row in rows
    ]
