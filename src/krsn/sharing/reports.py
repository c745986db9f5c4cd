"""Threat reports: authored intelligence (an executive summary, the analysis, the indicators
it refers to, what is attached), written as drafts and then published.

Creating, showing, changing and deleting a report are ``knowledge``'s, given ``KIND``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.sharing import knowledge, links
from krsn.sharing import tlp as tlps
from krsn.sharing.models import Classification, ReportType, ThreatReport
from krsn.sharing.schemas import ReportRead


def _indicators(session: Session, ids: Sequence[uuid.UUID]) -> list[str]:
    distinct = list(dict.fromkeys(ids))
    known: set[uuid.UUID] = set()
    for part in links.chunks(distinct):
        known.update(
            session.scalars(select(ThreatIndicator.id).where(ThreatIndicator.id.in_(part)))
        )
    missing = [i for i in distinct if i not in known]
    if missing:
        raise Invalid("indicators_referenced", f"no indicator {missing[0]}")
    return [str(i) for i in distinct]


def _new(actor: Actor) -> ThreatReport:
    return ThreatReport(
        id=uuid.uuid4(),
        title="",
        classification=Classification.INTERNAL,
        author_id=actor.user_id,
        indicators_referenced=[],
        attachments=[],
    )


def _apply(session: Session, row: ThreatReport, values: Mapping[str, Any]) -> None:
    for key in ("executive_summary", "detailed_analysis"):
        if key in values:
            setattr(row, key, values[key])
    if "report_type" in values:
        given = values["report_type"]
        row.report_type = ReportType(given) if given is not None else None
    if "classification" in values:
        if values["classification"] is None:
            raise Invalid("classification", "must be one of public, internal, confidential")
        row.classification = Classification(values["classification"])
    if "indicators_referenced" in values:
        row.indicators_referenced = _indicators(session, values["indicators_referenced"] or [])
    if "attachments" in values:
        row.attachments = [dict(a) for a in values["attachments"] or []]
    if "metadata" in values or tlps.TLP_KEY in values:
        # The marking lives in metadata.tlp; only the tlp field changes it.
        document = knowledge.with_tlp(row.metadata_, values, field="metadata")
        row.metadata_ = document or values.get("metadata", document)
    given = values.get(tlps.TLP_KEY)
    floor = tlps.classification_tlp(row.classification)
    if given is not None and tlps.strictest(tlps.parse_tlp(given), floor) != tlps.parse_tlp(given):
        # A marking tightens a classification, never loosens it: say so rather than ignore it.
        raise Invalid(
            "tlp",
            f"a report classified {row.classification.value} is at least TLP:{floor.upper()}; "
            "change its classification to share it more widely",
        )


KIND = knowledge.Kind(
    model=ThreatReport,
    resource="threat_report",
    noun="threat report",
    article="a",
    name="title",
    unnamed="a threat report needs a title",
    unique=False,
    fields=frozenset(
        {
            "title",
            "executive_summary",
            "detailed_analysis",
            "report_type",
            "classification",
            "indicators_referenced",
            "attachments",
            "metadata",
            "tlp",
        }
    ),
    sorts={
        "title": ThreatReport.title,
        "created": ThreatReport.created_at,
        "updated": ThreatReport.updated_at,
    },
    new=_new,
    apply=_apply,
)
"""Threat reports: written as unpublished drafts by their author; titles may repeat, and
a published report stays published through edits."""


def publish_report(session: Session, *, actor: Actor, report_id: uuid.UUID) -> ThreatReport:
    """Publish a report now; one already published is 409."""
    row = knowledge.get(session, KIND, report_id)
    if row.published_at is not None:
        raise Conflict(f"The report was already published at {row.published_at.isoformat()}.")
    before = audit.snapshot(row)
    row.published_at = utcnow()
    knowledge.changed(
        session, row, actor=actor, resource_type=KIND.resource, before=before, action="publish"
    )
    return row


def page_reports(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "-created",
    q: str | None = None,
    report_type: ReportType | None = None,
    classification: Classification | None = None,
    published: bool | None = None,
    author_id: uuid.UUID | None = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
) -> PageResult[ThreatReport]:
    """A page of reports, newest first unless ``sort`` says otherwise; ``q`` is part of the
    title or the executive summary, in any case; ``published_after`` is inclusive,
    ``published_before`` exclusive."""
    statement = select(ThreatReport)
    if q is not None:
        text = q.strip()
        statement = statement.where(
            or_(
                links.name_matches(session, ThreatReport.title, q),
                func.lower(ThreatReport.executive_summary).contains(text.lower(), autoescape=True),
            )
        )
    if report_type is not None:
        statement = statement.where(ThreatReport.report_type == report_type)
    if classification is not None:
        statement = statement.where(ThreatReport.classification == classification)
    if published is not None:
        column = ThreatReport.published_at
        statement = statement.where(column.is_not(None) if published else column.is_(None))
    if author_id is not None:
        statement = statement.where(ThreatReport.author_id == author_id)
    if published_after is not None:
        statement = statement.where(ThreatReport.published_at >= published_after)
    if published_before is not None:
        statement = statement.where(ThreatReport.published_at < published_before)
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)


def report_read(row: ThreatReport) -> ReportRead:
    """A report as shown, with the TLP it is shared under (its marking or classification's)."""
    return ReportRead.model_validate(row).model_copy(update={"tlp": tlps.report_tlp(row)})
