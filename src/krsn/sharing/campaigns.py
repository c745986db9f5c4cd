"""Threat campaigns: an analyst's CRUD and search, each shown with the actors behind it, the
techniques it used and how many indicators are linked to it.

As with actors, the ATT&CK import owns the items it wrote into ``tactics``, ``techniques``,
``procedures`` and ``attributed_actors`` (they carry an ``attack_id``); an analyst's list
replaces the rest. An analyst attributes by actor id, stored as ``{"actor_id", "name"}``,
the shape the import writes too, so one query finds an actor's campaigns either way.

Creating, showing, changing and deleting a campaign are ``knowledge``'s, given ``KIND``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult
from krsn.errors import Invalid
from krsn.identity.audit import Actor
from krsn.sharing import knowledge, links
from krsn.sharing import tlp as tlps
from krsn.sharing.models import CampaignStatus, ThreatActor, ThreatCampaign
from krsn.sharing.schemas import ActorRef, CampaignRead, TechniqueUse, UseSource


def attributed_to(session: Session, actor_id: uuid.UUID) -> ColumnElement[bool]:
    """The campaign's ``attributed_actors`` names this actor (by the analyst or ATT&CK)."""
    if session.get_bind().dialect.name == "postgresql":
        return sql_cast(ThreatCampaign.attributed_actors, JSONB).contains(
            [{"actor_id": str(actor_id)}]
        )
    each = func.json_each(ThreatCampaign.attributed_actors).table_valued("value", "type")
    # CASE, so that an element that is not an object is never parsed as one.
    named = case((each.c.type == "object", func.json_extract(each.c.value, "$.actor_id")))
    return select(literal(1)).select_from(each).where(named == str(actor_id)).exists()


def _actor_names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    names: dict[uuid.UUID, str] = {}
    for part in links.chunks(sorted(set(ids))):
        names.update(
            (row[0], row[1])
            for row in session.execute(
                select(ThreatActor.id, ThreatActor.actor_name).where(ThreatActor.id.in_(part))
            )
        )
    return names


def _actors(session: Session, ids: Sequence[uuid.UUID]) -> list[dict[str, str]]:
    distinct = list(dict.fromkeys(ids))
    names = _actor_names(session, distinct)
    missing = [i for i in distinct if i not in names]
    if missing:
        raise Invalid("attributed_actors", f"no threat actor {missing[0]}")
    return [{"actor_id": str(i), "name": names[i]} for i in distinct]


def _new(actor: Actor) -> ThreatCampaign:
    return ThreatCampaign(
        id=uuid.uuid4(),
        campaign_name="",
        status=CampaignStatus.ACTIVE,
        tactics=[],
        techniques=[],
        procedures=[],
        attributed_actors=[],
        analyst_id=actor.user_id,
    )


def _apply(session: Session, row: ThreatCampaign, values: Mapping[str, Any]) -> None:
    if "description" in values:
        row.description = values["description"]
    if "status" in values:
        if values["status"] is None:
            raise Invalid("status", "must be one of active, dormant, completed")
        row.status = CampaignStatus(values["status"])
    imported = knowledge.imported
    if "tactics" in values:
        row.tactics = [*(values["tactics"] or []), *imported(row.tactics)]
    if "procedures" in values:
        row.procedures = [*(values["procedures"] or []), *imported(row.procedures)]
    if "techniques" in values:
        ids = links.known_techniques(session, values["techniques"] or [], field="techniques")
        row.techniques = [*ids, *imported(row.techniques)]
    if "attributed_actors" in values:
        row.attributed_actors = [
            *_actors(session, values["attributed_actors"] or []),
            *imported(row.attributed_actors),
        ]
    if tlps.TLP_KEY in values:
        row.tlp = tlps.parse_tlp(values[tlps.TLP_KEY])
    knowledge.apply_observed(row, values)


KIND = knowledge.Kind(
    model=ThreatCampaign,
    resource="threat_campaign",
    noun="threat campaign",
    article="a",
    name="campaign_name",
    unnamed="a threat campaign needs a name",
    fields=frozenset(
        {
            "campaign_name",
            "description",
            "status",
            "first_observed",
            "last_observed",
            "tactics",
            "techniques",
            "procedures",
            "attributed_actors",
            "tlp",
        }
    ),
    sorts={
        "name": ThreatCampaign.campaign_name,
        "created": ThreatCampaign.created_at,
        "updated": ThreatCampaign.updated_at,
    },
    new=_new,
    apply=_apply,
)
"""Threat campaigns: names unique in any case, the creator their analyst; lists an analyst
sends replace the analyst's part (ATT&CK's part stays)."""


def page_campaigns(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "name",
    q: str | None = None,
    status: CampaignStatus | None = None,
    actor_id: uuid.UUID | None = None,
    observed_after: datetime | None = None,
    observed_before: datetime | None = None,
) -> PageResult[ThreatCampaign]:
    """A page of campaigns; ``q`` is part of the name, in any case; ``actor_id`` an actor
    they are attributed to; ``observed_after`` keeps those last observed at or after it,
    ``observed_before`` those first observed before it."""
    statement = select(ThreatCampaign)
    if q is not None:
        statement = statement.where(links.name_matches(session, ThreatCampaign.campaign_name, q))
    if status is not None:
        statement = statement.where(ThreatCampaign.status == status)
    if actor_id is not None:
        statement = statement.where(attributed_to(session, actor_id))
    statement = knowledge.observed_within(
        statement, ThreatCampaign, after=observed_after, before=observed_before
    )
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)


def campaign_reads(session: Session, rows: Sequence[ThreatCampaign]) -> list[CampaignRead]:
    """Campaigns as shown: actors under their current names, techniques named, and the
    count of linked indicators, in a few queries for the whole page."""
    counts = links.link_counts(session, kind=links.CAMPAIGN_LINKS, owner_ids=[r.id for r in rows])
    actor_ids = set()
    technique_ids = set()
    for row in rows:
        for item in row.attributed_actors or ():
            if isinstance(item, dict) and item.get("actor_id"):
                try:
                    actor_ids.add(uuid.UUID(str(item["actor_id"])))
                except ValueError:
                    continue
        for item in row.techniques or ():
            technique_ids.add(item["attack_id"] if isinstance(item, dict) else str(item))
    names = _actor_names(session, actor_ids)
    technique_names = links.technique_names(session, technique_ids)
    return [_read(row, counts.get(row.id, 0), names, technique_names) for row in rows]


def _read(
    row: ThreatCampaign,
    count: int,
    actor_names: Mapping[uuid.UUID, str],
    technique_names: Mapping[str, str],
) -> CampaignRead:
    actors: dict[str, ActorRef] = {}
    for item in row.attributed_actors or ():
        if not isinstance(item, dict):
            continue
        try:
            actor_id: uuid.UUID | None = uuid.UUID(str(item.get("actor_id")))
        except ValueError:
            actor_id = None
        known = actor_id if actor_id in actor_names else None
        key = str(known) if known else f"name:{item.get('name')}"
        shown = actors.get(key)
        attack_id = item.get("attack_id") or (shown.attack_id if shown else None)
        actors[key] = ActorRef(
            actor_id=known,
            name=actor_names[known] if known else str(item.get("name") or ""),
            attack_id=attack_id,
        )
    techniques: dict[str, TechniqueUse] = {}
    for item in row.techniques or ():
        technique_id = str(item["attack_id"]) if isinstance(item, dict) else str(item)
        source: UseSource = "attack" if isinstance(item, dict) else "analyst"
        found = techniques.get(technique_id)
        if found is None:
            name = technique_names.get(technique_id)
            if name is None and isinstance(item, dict):
                name = item.get("name")
            techniques[technique_id] = TechniqueUse(
                technique_id=technique_id, name=name, sources=[source]
            )
        elif source not in found.sources:
            found.sources.append(source)
    tactics = [
        str(item.get("shortname") or item.get("name")) if isinstance(item, dict) else str(item)
        for item in row.tactics or ()
    ]
    return CampaignRead(
        id=row.id,
        campaign_name=row.campaign_name,
        description=row.description,
        status=row.status,
        first_observed=row.first_observed,
        last_observed=row.last_observed,
        tactics=list(dict.fromkeys(tactics)),
        techniques=list(techniques.values()),
        procedures=list(row.procedures or ()),
        attributed_actors=list(actors.values()),
        analyst_id=row.analyst_id,
        tlp=tlps.campaign_tlp(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        indicator_count=count,
    )
