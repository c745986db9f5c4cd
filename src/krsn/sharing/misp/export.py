"""A selection (:mod:`krsn.sharing.selection`) as one MISP event, in the form MISP feeds use.

Each indicator is an attribute:

=====================  ==============  ==================
indicator kind         MISP type       category
=====================  ==============  ==================
ipv4, ipv6, cidr       ip-dst          Network activity
domain                 domain          Network activity
url                    url             Network activity
md5, sha1, sha256,     the same name   Payload delivery
sha512
email                  email-src       Payload delivery
=====================  ==============  ==================

``to_ids`` is whether the indicator is active (one a warninglist or an analyst stopped is
shared for context, never for detection). An attribute carries the indicator's tags, its
TLP where it is stricter than the event's, galaxy tags for the actors it is linked to and the
techniques it is mapped to, and a ``misp-galaxy:malpedia`` tag per malware family not already
named by a galaxy tag. The event carries the strictest TLP of everything in it (and of the
selection), and galaxy tags for the selection's actors and techniques.

Identifiers are stable: the event's uuid is a uuid5 of the selection's key (by default its
title), an attribute's a uuid5 of the event's uuid, its type and its value; timestamps come
from the rows (the latest change), so exporting an unchanged selection again gives the same
event, byte for byte, and a MISP instance subscribed to the feed fetches nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.indicators.models import Severity, ThreatIndicator
from krsn.indicators.normalise import Kind
from krsn.sharing.misp.galaxy import actor_tags, read_tag, technique_tag
from krsn.sharing.models import ActorIndicator, IndicatorTechnique, MitreTechnique, ThreatActor
from krsn.sharing.selection import Selection
from krsn.sharing.tlp import indicator_tlp, strictest, tlp_level

NAMESPACE: Final = uuid.UUID("6f1d3c8e-5b0a-5d43-9a51-4b8e2f7c9d10")
"""Fixed forever: every event and attribute uuid we publish derives from it."""
DEFAULT_ORG: Final = "KRSN-RT2I"

ATTRIBUTE_TYPES: Final[dict[Kind, tuple[str, str]]] = {
    Kind.IPV4: ("ip-dst", "Network activity"),
    Kind.IPV6: ("ip-dst", "Network activity"),
    Kind.CIDR: ("ip-dst", "Network activity"),
    Kind.DOMAIN: ("domain", "Network activity"),
    Kind.URL: ("url", "Network activity"),
    Kind.MD5: ("md5", "Payload delivery"),
    Kind.SHA1: ("sha1", "Payload delivery"),
    Kind.SHA256: ("sha256", "Payload delivery"),
    Kind.SHA512: ("sha512", "Payload delivery"),
    Kind.EMAIL: ("email-src", "Payload delivery"),
}
"""The MISP type and category of each indicator kind."""

_THREAT_LEVEL: Final = {
    Severity.CRITICAL: "1",
    Severity.HIGH: "1",
    Severity.MEDIUM: "2",
    Severity.LOW: "3",
}
_UNDEFINED_LEVEL: Final = "4"
_COMPLETED: Final = "2"
_IN_CHUNK: Final = 1000


def event_uuid(key: str) -> str:
    """The uuid of the event a selection key exports to."""
    return str(uuid.uuid5(NAMESPACE, f"event:{key}"))


def attribute_uuid(event: str, misp_type: str, value: str) -> str:
    """The uuid of one attribute of an event: the same on every publish."""
    return str(uuid.uuid5(NAMESPACE, f"attribute:{event}:{misp_type}:{value}"))


def org_uuid(name: str) -> str:
    """A stable uuid for the publishing organisation's name."""
    return str(uuid.uuid5(NAMESPACE, f"org:{name}"))


def _epoch(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _tag(name: str) -> dict[str, Any]:
    return {"name": name}


def _tlp_tag(level: str) -> str:
    return f"tlp:{level}"


def _indicators(session: Session, selection: Selection) -> Iterator[ThreatIndicator]:
    if selection.indicators or selection.indicator_query is None:
        yield from selection.indicators
        return
    yield from session.scalars(selection.indicator_query.execution_options(yield_per=1000))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _links(
    session: Session, ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, list[str]]]:
    """Each indicator's actor and technique galaxy tags, read in batches."""
    actors: dict[uuid.UUID, list[str]] = {}
    techniques: dict[uuid.UUID, list[str]] = {}
    for chunk in _chunks(ids, _IN_CHUNK):
        for indicator_id, name, data in session.execute(
            select(
                ActorIndicator.indicator_id, ThreatActor.actor_name, ThreatActor.attribution_data
            )
            .join(ThreatActor, ThreatActor.id == ActorIndicator.actor_id)
            .where(ActorIndicator.indicator_id.in_(chunk))
        ):
            actors.setdefault(indicator_id, []).extend(actor_tags(name, _attack_id(data)))
        for indicator_id, technique_id, name in session.execute(
            select(
                IndicatorTechnique.indicator_id,
                MitreTechnique.technique_id,
                MitreTechnique.technique_name,
            )
            .join(MitreTechnique, MitreTechnique.technique_id == IndicatorTechnique.technique_id)
            .where(IndicatorTechnique.indicator_id.in_(chunk))
        ):
            techniques.setdefault(indicator_id, []).append(technique_tag(technique_id, name))
    return actors, techniques


def _attack_id(data: Any) -> str | None:
    """An actor's ATT&CK group id, from the ATT&CK import or from the MISP galaxy it came from."""
    for owner in ("mitre_attack", "misp_galaxy"):
        block = data.get(owner) if isinstance(data, dict) else None
        attack_id = block.get("attack_id") if isinstance(block, dict) else None
        if isinstance(attack_id, str) and attack_id:
            return attack_id
    return None


def _family_tags(families: Any, tags: list[str]) -> list[str]:
    named = {tag.split('="', 1)[-1].rstrip('"').casefold() for tag in tags if "galaxy" in tag}
    found = []
    for family in families if isinstance(families, list) else ():
        if isinstance(family, str) and family.casefold() not in named:
            found.append(f'misp-galaxy:malpedia="{family.replace(chr(34), chr(39))}"')
    return found


def export_event(
    session: Session,
    *,
    selection: Selection,
    key: str | None = None,
    org: str = DEFAULT_ORG,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The selection as ``{"Event": {…}}``, ready for a file, a feed or PyMISP's ``load``.

    ``key`` names the selection for good (``collection:Emotet C2``); the event's uuid derives
    from it, so re-exporting updates the same event. ``now`` dates an event with no rows.
    """
    identifier = event_uuid(key or selection.title)
    indicators = list(_indicators(session, selection))
    actor_links, technique_links = _links(session, [i.id for i in indicators])
    event_tlp = tlp_level(selection.tlp) if selection.tlp else None
    attributes: list[dict[str, Any]] = []
    changed: list[int] = []
    first_seen: list[datetime] = []
    severities: list[Severity] = []
    for indicator in indicators:
        meta = indicator.metadata_ or {}
        try:
            kind = Kind(meta.get("kind") or "")
        except ValueError:
            kind = None
        misp_type, category = (
            ATTRIBUTE_TYPES[kind] if kind is not None else _by_stored_type(indicator)
        )
        own_tlp = strictest(event_tlp, indicator_tlp(meta), *_tag_tlps(meta.get("tags")))
        tags = [
            t
            for t in meta.get("tags") or ()
            if isinstance(t, str) and not t.lower().startswith("tlp:")
        ]
        tags += actor_links.get(indicator.id, []) + technique_links.get(indicator.id, [])
        tags += _family_tags(meta.get("malware_families"), tags)
        stamp = _epoch(indicator.updated_at) or _epoch(indicator.created_at) or 0
        changed.append(stamp)
        attribute: dict[str, Any] = {
            "uuid": attribute_uuid(identifier, misp_type, indicator.indicator_value),
            "type": misp_type,
            "category": category,
            "value": indicator.indicator_value,
            "to_ids": bool(indicator.is_active),
            "comment": _comment(indicator),
            "timestamp": str(stamp),
            "disable_correlation": False,
        }
        if indicator.first_seen_at is not None:
            first_seen.append(indicator.first_seen_at)
            attribute["first_seen"] = _iso(indicator.first_seen_at)
            if indicator.last_seen_at is not None and indicator.last_seen_at >= (
                indicator.first_seen_at
            ):
                attribute["last_seen"] = _iso(indicator.last_seen_at)
        if own_tlp is not None:
            tags.insert(0, _tlp_tag(own_tlp))
        if tags:
            attribute["Tag"] = [_tag(t) for t in dict.fromkeys(tags)]
        attributes.append(attribute)
        event_tlp = strictest(event_tlp, own_tlp)
        if indicator.severity is not None:
            severities.append(Severity(indicator.severity))
    timestamp = max(changed, default=_epoch(now or utcnow()) or 0)
    day = min(first_seen) if first_seen else datetime.fromtimestamp(timestamp, UTC)
    event_tags = [_tlp_tag(event_tlp)] if event_tlp else []
    for actor in selection.actors:
        event_tags += actor_tags(actor.actor_name, _attack_id(actor.attribution_data))
    for technique in selection.techniques:
        event_tags.append(technique_tag(technique.technique_id, technique.technique_name))
    # The attribute's own TLP tag is only worth repeating where it is stricter than the event's.
    for attribute in attributes:
        _drop_event_tlp(attribute, event_tlp)
    order = list(Severity)
    level = min(severities, key=order.index) if severities else None
    return {
        "Event": {
            "uuid": identifier,
            "info": selection.title,
            "date": day.astimezone(UTC).date().isoformat()
            if day.tzinfo
            else day.date().isoformat(),
            "threat_level_id": _THREAT_LEVEL.get(level, _UNDEFINED_LEVEL) if level else "4",
            "analysis": _COMPLETED,
            "timestamp": str(timestamp),
            "publish_timestamp": str(timestamp),
            "published": True,
            "Orgc": {"name": org, "uuid": org_uuid(org)},
            "Tag": [_tag(t) for t in dict.fromkeys(event_tags)],
            "Attribute": attributes,
        }
    }


def _tag_tlps(tags: Any) -> list[str | None]:
    return [tlp_level(t) for t in tags or () if isinstance(t, str) and t.lower().startswith("tlp:")]


def _drop_event_tlp(attribute: dict[str, Any], event_tlp: str | None) -> None:
    if event_tlp is None or "Tag" not in attribute:
        return
    kept = [t for t in attribute["Tag"] if t["name"] != _tlp_tag(event_tlp)]
    if kept:
        attribute["Tag"] = kept
    else:
        del attribute["Tag"]


def _by_stored_type(indicator: ThreatIndicator) -> tuple[str, str]:
    # Rows older than the kind in metadata: the stored type still says enough for MISP.
    value = indicator.indicator_value
    by_type = {
        "ip": ATTRIBUTE_TYPES[Kind.IPV4],
        "domain": ATTRIBUTE_TYPES[Kind.DOMAIN],
        "url": ATTRIBUTE_TYPES[Kind.URL],
        "email": ATTRIBUTE_TYPES[Kind.EMAIL],
    }
    stored = str(getattr(indicator.indicator_type, "value", indicator.indicator_type))
    if stored == "hash":
        kind = {32: Kind.MD5, 40: Kind.SHA1, 64: Kind.SHA256, 128: Kind.SHA512}.get(len(value))
        return ATTRIBUTE_TYPES[kind or Kind.SHA256]
    return by_type.get(stored, ATTRIBUTE_TYPES[Kind.DOMAIN])


def _comment(indicator: ThreatIndicator) -> str:
    meta = indicator.metadata_ or {}
    parts = []
    families = meta.get("malware_families")
    if isinstance(families, list) and families:
        parts.append("malware: " + ", ".join(str(f) for f in families))
    if indicator.severity is not None:
        parts.append(f"severity: {getattr(indicator.severity, 'value', indicator.severity)}")
    if not indicator.is_active:
        parts.append("inactive: not for detection")
    return "; ".join(parts)


def galaxy_refs(event: dict[str, Any]) -> list[str]:
    """The actor and technique galaxy tags an exported event carries (for summaries)."""
    tags = [t["name"] for t in event["Event"].get("Tag", [])]
    return [t for t in tags if read_tag(t) is not None]
