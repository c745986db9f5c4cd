"""MISP events into the store: indicators through the feed pipeline, then actors and techniques.

Every indicator attribute becomes a row of the ``misp`` feed format
(:mod:`krsn.feeds.formats.misp_format`, which holds the attribute type mapping), and the rows
go through the same :func:`~krsn.feeds.pipeline.prepare_batch` and
:func:`~krsn.feeds.pipeline.store_batch` as a feed run: normalisation, warninglists, scoring
and one intelligence record per indicator and source. On top of that:

- the TLP marking (``tlp:*``, the attribute's own winning over the event's) is added to the
  indicator's tags, so it travels with the indicator, not only with the record;
- galaxy tags naming a threat actor (``misp-galaxy:threat-actor="Sofacy"``,
  ``misp-galaxy:mitre-intrusion-set="APT1 - G0006"``) link the indicator to that actor in
  ``actor_indicators``, creating the actor when no actor has that name, alias or ATT&CK id;
- ``misp-galaxy:mitre-attack-pattern="… - T1059"`` links it in ``indicator_techniques`` when
  the technique was imported (``krsn attack import``); unknown ids are counted, not created;
- malware galaxies (``malpedia``, ``mitre-malware`` …) name the malware family, as in feeds;
- sightings are counted and kept in the record's ``processed_data.extra.sightings``.

Values a warninglist stops are stored inactive, as from feeds, and get no actor or technique
link: a link from a public resolver to an actor would mislead every later lookup.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Invalid
from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.misp_format import MispFormat, events_of
from krsn.feeds.pipeline import (
    DEFAULT_BATCH,
    IngestSummary,
    Prepared,
    SourceRef,
    Suppressor,
    prepare_batch,
    store_batch,
)
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.sharing.misp.galaxy import ActorRef, TechniqueRef, cluster_details, read_tag
from krsn.sharing.models import (
    ActorIndicator,
    ActorRelationship,
    IndicatorTechnique,
    MitreTechnique,
    ThreatActor,
)
from krsn.sharing.tlp import strictest, tlp_level

log = logging.getLogger(__name__)

_IN_CHUNK = 1000
"""Values per ``IN (…)`` list: well inside both engines' parameter limits."""


@dataclass
class MispImportSummary:
    """What one import did: events and attributes read, indicators stored, links made."""

    source: str
    events: int = 0
    attributes: int = 0
    sighted_attributes: int = 0
    sightings: int = 0
    indicators: IngestSummary = field(default_factory=IngestSummary)
    actors_created: list[str] = field(default_factory=list)
    actor_links: int = 0
    technique_links: int = 0
    unknown_techniques: set[str] = field(default_factory=set)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary as the CLI's ``--json`` prints it."""
        indicators = self.indicators.as_dict()
        errors = indicators.pop("errors")
        indicators.pop("duration_s")
        return {
            "source": self.source,
            "events": self.events,
            "attributes": self.attributes,
            "sighted_attributes": self.sighted_attributes,
            "sightings": self.sightings,
            "indicators": indicators,
            "actors_created": sorted(self.actors_created),
            "actor_links": self.actor_links,
            "technique_links": self.technique_links,
            "unknown_techniques": sorted(self.unknown_techniques),
            "duration_s": round(self.duration_s, 3),
            "errors": errors,
        }


def _relationship(kind: IndicatorType) -> ActorRelationship:
    # A file hash names what the actor ran; every other kind names where it operated from.
    return (
        ActorRelationship.TOOL if kind is IndicatorType.HASH else ActorRelationship.INFRASTRUCTURE
    )


def _count_read(document: Any, summary: MispImportSummary) -> None:
    try:
        events = events_of(document)
    except FormatError as exc:
        raise Invalid("document", str(exc)) from None
    for event, holders in events:
        if event is not None:
            summary.events += 1
        for holder in holders:
            attributes = holder.get("Attribute") if isinstance(holder, dict) else None
            for attribute in attributes if isinstance(attributes, list) else ():
                summary.attributes += 1
                sightings = attribute.get("Sighting") if isinstance(attribute, dict) else None
                if isinstance(sightings, list) and sightings:
                    summary.sighted_attributes += 1
                    summary.sightings += len(sightings)


def _details(document: Any) -> dict[str, tuple[tuple[str, ...], str | None]]:
    found: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for event, _ in events_of(document):
        if event is not None:
            found.update(cluster_details(event))
    return found


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Actors:
    """The known threat actors by ATT&CK id and by every name, read once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_attack: dict[str, uuid.UUID] = {}
        self.by_name: dict[str, uuid.UUID] = {}
        rows = session.execute(
            select(
                ThreatActor.id,
                ThreatActor.actor_name,
                ThreatActor.aliases,
                ThreatActor.attribution_data,
            )
        )
        for actor_id, name, aliases, data in rows:
            self._remember(actor_id, name, aliases, data)

    def _remember(self, actor_id: uuid.UUID, name: str, aliases: Any, data: Any) -> None:
        for alias in [*(aliases if isinstance(aliases, list) else ()), name]:
            if isinstance(alias, str):
                self.by_name.setdefault(alias.casefold(), actor_id)
        self.by_name[name.casefold()] = actor_id
        for owner in ("mitre_attack", "misp_galaxy"):
            block = data.get(owner) if isinstance(data, dict) else None
            attack_id = block.get("attack_id") if isinstance(block, dict) else None
            if isinstance(attack_id, str):
                self.by_attack.setdefault(attack_id.upper(), actor_id)

    def resolve(
        self,
        ref: ActorRef,
        details: Mapping[str, tuple[tuple[str, ...], str | None]],
        *,
        actor: Actor,
        summary: MispImportSummary,
    ) -> uuid.UUID:
        """The actor a galaxy tag names, created on first sight."""
        if ref.attack_id and ref.attack_id.upper() in self.by_attack:
            return self.by_attack[ref.attack_id.upper()]
        synonyms, description = details.get(ref.tag, ((), None))
        for name in (ref.name, *synonyms):
            found = self.by_name.get(name.casefold())
            if found is not None:
                return found
        aliases = sorted({s for s in synonyms if s.casefold() != ref.name.casefold()})
        data = {"misp_galaxy": {"tag": ref.tag, "attack_id": ref.attack_id}}
        row = ThreatActor(
            actor_name=ref.name[:255],
            aliases=aliases,
            description=description,
            attribution_data=data,
            # The schema makes these NOT NULL; a galaxy tag says nothing of them.
            motivations=[],
            target_industries=[],
            target_countries=[],
            known_tools=[],
        )
        audit.created(
            self.session,
            row,
            actor=actor,
            resource_type="threat_actor",
            details={"from": "misp", "tag": ref.tag},
        )
        self._remember(row.id, row.actor_name, aliases, data)
        summary.actors_created.append(row.actor_name)
        return row.id


def _indicator_ids(session: Session, signatures: Sequence[str]) -> dict[str, uuid.UUID]:
    found: dict[str, uuid.UUID] = {}
    for chunk in _chunks(sorted(signatures), _IN_CHUNK):
        rows = session.execute(
            select(ThreatIndicator.hash_signature, ThreatIndicator.id).where(
                ThreatIndicator.hash_signature.in_(chunk)
            )
        )
        found.update((signature, indicator_id) for signature, indicator_id in rows)
    return found


def _link(
    session: Session,
    *,
    prepared: Sequence[Prepared],
    details: Mapping[str, tuple[tuple[str, ...], str | None]],
    actors: _Actors | None,
    actor: Actor,
    summary: MispImportSummary,
) -> _Actors | None:
    """Actor and technique links of one stored batch; the actor index, read if it was needed."""
    actor_refs: dict[str, set[ActorRef]] = {}
    technique_refs: dict[str, set[TechniqueRef]] = {}
    evidence: dict[str, str] = {}
    kinds: dict[str, IndicatorType] = {}
    for entry in prepared:
        if entry.report.suppressed_by:
            continue
        signature = entry.indicator.signature
        for tag in entry.processed.get("tags") or ():
            ref = read_tag(tag)
            if isinstance(ref, ActorRef):
                actor_refs.setdefault(signature, set()).add(ref)
            elif isinstance(ref, TechniqueRef):
                technique_refs.setdefault(signature, set()).add(ref)
        if signature in actor_refs or signature in technique_refs:
            extra = entry.processed.get("extra") or {}
            evidence[signature] = f"MISP event {extra.get('event_uuid', '?')}"
            kinds[signature] = entry.indicator.kind.indicator_type
    if not evidence:
        return actors
    ids = _indicator_ids(session, list(evidence))
    if actor_refs:
        actors = actors or _Actors(session)
        pairs: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, str]] = {}
        for signature, refs in actor_refs.items():
            for ref in sorted(refs, key=lambda r: r.tag):
                actor_id = actors.resolve(ref, details, actor=actor, summary=summary)
                pairs.setdefault((actor_id, ids[signature]), (signature, ref.tag))
        session.flush()
        existing = _existing(session, ActorIndicator, ActorIndicator.actor_id, pairs)
        rows = [
            {
                "actor_id": actor_id,
                "indicator_id": indicator_id,
                "relationship_type": _relationship(kinds[signature]),
                "associated_by": actor.user_id,
                "evidence": f"{evidence[signature]}: {tag}",
            }
            for (actor_id, indicator_id), (signature, tag) in pairs.items()
            if (actor_id, indicator_id) not in existing
        ]
        if rows:
            session.execute(insert(ActorIndicator), rows)
        summary.actor_links += len(rows)
    if technique_refs:
        wanted = {ref.technique_id for refs in technique_refs.values() for ref in refs}
        known = set(
            session.scalars(
                select(MitreTechnique.technique_id).where(MitreTechnique.technique_id.in_(wanted))
            )
        )
        summary.unknown_techniques |= wanted - known
        links: dict[tuple[str, uuid.UUID], str] = {}
        for signature, trefs in technique_refs.items():
            for tref in trefs:
                if tref.technique_id in known:
                    links.setdefault((tref.technique_id, ids[signature]), tref.tag)
        existing_links = _existing(
            session, IndicatorTechnique, IndicatorTechnique.technique_id, links
        )
        technique_rows = [
            {
                "technique_id": technique_id,
                "indicator_id": indicator_id,
                "mapped_by": actor.user_id,
                "evidence": f"MISP galaxy tag {tag}",
            }
            for (technique_id, indicator_id), tag in links.items()
            if (technique_id, indicator_id) not in existing_links
        ]
        if technique_rows:
            session.execute(insert(IndicatorTechnique), technique_rows)
        summary.technique_links += len(technique_rows)
    return actors


def _record_tlp(session: Session, *, prepared: Sequence[Prepared], now: datetime) -> None:
    """Mark each indicator with the strictest TLP any report gave it (``metadata.tlp``)."""
    wanted: dict[str, str] = {}
    for entry in prepared:
        given = (entry.processed.get("extra") or {}).get("tlp")
        level = tlp_level(given) if isinstance(given, str) else None
        if level is not None:
            wanted[entry.indicator.signature] = (
                strictest(wanted.get(entry.indicator.signature), level) or level
            )
    if not wanted:
        return
    changes = []
    for chunk in _chunks(sorted(wanted), _IN_CHUNK):
        rows = session.execute(
            select(
                ThreatIndicator.hash_signature, ThreatIndicator.id, ThreatIndicator.metadata_
            ).where(ThreatIndicator.hash_signature.in_(chunk))
        )
        for signature, indicator_id, stored in rows:
            current = stored if isinstance(stored, dict) else {}
            level = strictest(tlp_level(current.get("tlp")), wanted[signature])
            if level != current.get("tlp"):
                changes.append(
                    {"id": indicator_id, "metadata_": {**current, "tlp": level}, "updated_at": now}
                )
    if changes:
        session.execute(update(ThreatIndicator), changes)


def _existing(
    session: Session, table: Any, key: Any, pairs: Mapping[tuple[Any, uuid.UUID], Any]
) -> set[tuple[Any, uuid.UUID]]:
    """Which (key, indicator) pairs are linked already."""
    found: set[tuple[Any, uuid.UUID]] = set()
    indicators = sorted({indicator_id for _, indicator_id in pairs}, key=str)
    for chunk in _chunks(indicators, _IN_CHUNK):
        rows = session.execute(select(key, table.indicator_id).where(table.indicator_id.in_(chunk)))
        found.update((linked, indicator_id) for linked, indicator_id in rows)
    return found


def import_document(
    session: Session,
    *,
    document: Any,
    source: SourceRef,
    actor: Actor,
    summary: MispImportSummary,
    suppressor: Suppressor | None = None,
    rules: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    now: datetime | None = None,
) -> None:
    """Import one MISP document (an event, a list, a ``{"response": …}`` answer) in the
    caller's transaction, adding what it did to ``summary``."""
    started = time.perf_counter()
    _count_read(document, summary)
    details = _details(document)
    run_id = run_id or f"misp-{uuid.uuid4()}"
    rows: list[ParsedRow] = []
    try:
        parsed = list(MispFormat().parse_document(document, rules or {}))
    except FormatError as exc:
        raise Invalid("document", str(exc)) from None
    for item in parsed:
        if isinstance(item, ParseError):
            summary.indicators.add_error(item.line, item.reason)
            continue
        tlp = item.extra.get("tlp")
        if isinstance(tlp, str) and tlp not in item.tags:
            item.tags = (*item.tags, tlp)
        rows.append(item)
    summary.indicators.parsed += len(parsed)
    actors: _Actors | None = None
    for batch in _chunks(rows, batch_size):
        stamp = now or utcnow()
        prepared = prepare_batch(
            batch,
            source=source,
            feed=None,
            suppressor=suppressor,
            summary=summary.indicators,
            now=stamp,
        )
        summary.indicators.count(
            store_batch(
                session, prepared=prepared, source=source, feed=None, run_id=run_id, now=stamp
            )
        )
        _record_tlp(session, prepared=prepared, now=stamp)
        actors = _link(
            session, prepared=prepared, details=details, actors=actors, actor=actor, summary=summary
        )
    summary.duration_s += time.perf_counter() - started


def import_events(
    session: Session,
    *,
    documents: Sequence[Any],
    source: SourceRef,
    actor: Actor,
    suppressor: Suppressor | None = None,
    rules: Mapping[str, Any] | None = None,
) -> MispImportSummary:
    """Import MISP documents in the caller's transaction and audit the import once."""
    summary = MispImportSummary(source=source.name)
    run_id = f"misp-{uuid.uuid4()}"
    for document in documents:
        import_document(
            session,
            document=document,
            source=source,
            actor=actor,
            summary=summary,
            suppressor=suppressor,
            rules=rules,
            run_id=run_id,
        )
    record_import(session, actor=actor, summary=summary, target=None)
    return summary


def record_import(
    session: Session, *, actor: Actor, summary: MispImportSummary, target: str | None
) -> None:
    """The audit row of a finished import, without its error list."""
    details = summary.as_dict()
    details.pop("errors")
    audit.record(
        session,
        actor=actor,
        action="misp.import",
        resource_type="threat_source",
        resource_id=summary.source,
        details={**details, "target": target},
    )
    log.info(
        "misp import source=%s events=%d attributes=%d new=%d updated=%d in %.2fs",
        summary.source,
        summary.events,
        summary.attributes,
        summary.indicators.new,
        summary.indicators.updated,
        summary.duration_s,
    )
