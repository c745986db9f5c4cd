"""Threat-intel providers (``threat_sources``): find or create one by name."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.errors import Invalid
from krsn.feeds.models import ThreatSource, ThreatSourceType
from krsn.feeds.pipeline import SourceRef
from krsn.identity import audit
from krsn.identity.audit import Actor


def ensure_source(
    session: Session,
    *,
    actor: Actor,
    name: str,
    reliability: float | None = None,
    source_type: ThreatSourceType = ThreatSourceType.INTERNAL,
) -> SourceRef:
    """The provider called ``name``, created (and audited) on first use."""
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("source", "give a name of 1 to 255 characters")
    if reliability is not None and not 0 <= reliability <= 100:
        raise Invalid("reliability", "must be between 0 and 100")
    source = session.scalar(select(ThreatSource).where(ThreatSource.name == name))
    if source is None:
        source = ThreatSource(name=name, reliability_score=reliability, source_type=source_type)
        session.add(source)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="threat_source.create",
            resource_type="threat_source",
            resource_id=source.id,
            new_values=audit.snapshot(source),
        )
    value = source.reliability_score
    return SourceRef(
        id=source.id, name=source.name, reliability=float(value) if value is not None else None
    )
