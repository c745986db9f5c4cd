"""Threat actors: an analyst's CRUD, search, and the profile of one actor (its tools and
techniques from ATT&CK and by hand, its campaigns, its linked indicators).

The ATT&CK import owns part of an actor: the items it wrote into ``known_tools`` (they carry
an ``attack_id``) and ``attribution_data["mitre_attack"]``. An analyst's edit replaces the
rest and never those, so a re-import and an analyst never undo each other.

Creating, showing, changing and deleting an actor are ``knowledge``'s, given ``KIND``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult
from krsn.errors import Invalid
from krsn.identity.audit import Actor
from krsn.sharing import knowledge, links
from krsn.sharing import tlp as tlps
from krsn.sharing.attack import OWNER_KEY
from krsn.sharing.campaigns import attributed_to
from krsn.sharing.models import (
    ActorIndicator,
    IndicatorTechnique,
    Sophistication,
    ThreatActor,
    ThreatCampaign,
)
from krsn.sharing.schemas import (
    ActorDetail,
    ActorRead,
    CampaignRef,
    TechniqueUse,
    ToolRef,
    UseSource,
)

# Where an analyst's techniques of an actor live: the table has no column of its own for them.
TECHNIQUES_KEY = "techniques"
RESERVED_KEYS = frozenset({OWNER_KEY, TECHNIQUES_KEY})
_LISTS = ("aliases", "motivations", "target_industries", "target_countries")


def _new(actor: Actor) -> ThreatActor:
    return ThreatActor(
        id=uuid.uuid4(),
        actor_name="",
        aliases=[],
        motivations=[],
        target_industries=[],
        target_countries=[],
        known_tools=[],
        attribution_data={},
    )


def _apply(session: Session, row: ThreatActor, values: Mapping[str, Any]) -> None:
    for key in _LISTS:
        if key in values:
            setattr(row, key, list(values[key] or []))
    if "description" in values:
        row.description = values["description"]
    if "sophistication" in values:
        given = values["sophistication"]
        row.sophistication = Sophistication(given) if given is not None else None
    if "known_tools" in values:
        row.known_tools = [*(values["known_tools"] or []), *knowledge.imported(row.known_tools)]
    data = dict(row.attribution_data) if isinstance(row.attribution_data, dict) else {}
    if "attribution_data" in values:
        given = values["attribution_data"] or {}
        reserved = sorted(RESERVED_KEYS & set(given))
        if reserved:
            raise Invalid(
                f"attribution_data.{reserved[0]}", "is kept by the platform; leave it out"
            )
        data = {**given, **{k: v for k, v in data.items() if k in RESERVED_KEYS}}
    if "attribution_data" in values:
        # The marking lives in attribution_data.tlp; only the tlp field changes it.
        data = knowledge.with_tlp(
            row.attribution_data, {**values, "attribution_data": data}, field="attribution_data"
        )
    elif tlps.TLP_KEY in values:
        data = knowledge.with_tlp(data, values, field="attribution_data")
    if "techniques" in values:
        ids = links.known_techniques(session, values["techniques"] or [], field="techniques")
        if ids:
            data[TECHNIQUES_KEY] = ids
        else:
            data.pop(TECHNIQUES_KEY, None)
    row.attribution_data = data
    knowledge.apply_observed(row, values)


def _unattribute(session: Session, row: ThreatActor) -> dict[str, Any]:
    # Campaigns stop naming a deleted actor rather than point at nothing.
    unattributed = []
    for campaign in session.scalars(
        select(ThreatCampaign).where(attributed_to(session, row.id)).with_for_update()
    ):
        campaign.attributed_actors = [
            item
            for item in campaign.attributed_actors or ()
            if not (isinstance(item, dict) and item.get("actor_id") == str(row.id))
        ]
        unattributed.append(str(campaign.id))
    return {"campaigns_unattributed": unattributed}


KIND = knowledge.Kind(
    model=ThreatActor,
    resource="threat_actor",
    noun="threat actor",
    article="a",
    name="actor_name",
    unnamed="a threat actor needs a name",
    fields=frozenset(
        {
            "actor_name",
            *_LISTS,
            "description",
            "sophistication",
            "known_tools",
            "techniques",
            "attribution_data",
            "first_observed",
            "last_observed",
            "tlp",
        }
    ),
    sorts={
        "name": ThreatActor.actor_name,
        "created": ThreatActor.created_at,
        "updated": ThreatActor.updated_at,
    },
    new=_new,
    apply=_apply,
    detach=_unattribute,
)
"""Threat actors: names unique in any case; lists an analyst sends replace the analyst's
part (ATT&CK's part stays); deleting one unattributes its campaigns."""


def page_actors(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "name",
    q: str | None = None,
    sophistication: Sophistication | None = None,
    observed_after: datetime | None = None,
    observed_before: datetime | None = None,
) -> PageResult[ThreatActor]:
    """A page of actors; ``q`` is part of the name or of an alias, in any case;
    ``observed_after`` keeps those last observed at or after it, ``observed_before`` those
    first observed before it."""
    statement = select(ThreatActor)
    if q is not None:
        statement = statement.where(
            links.name_matches(session, ThreatActor.actor_name, q, ThreatActor.aliases)
        )
    if sophistication is not None:
        statement = statement.where(ThreatActor.sophistication == sophistication)
    statement = knowledge.observed_within(
        statement, ThreatActor, after=observed_after, before=observed_before
    )
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)


def indicator_counts(session: Session, actor_ids: list[uuid.UUID]) -> dict[Any, int]:
    """How many indicators each actor is linked to."""
    return links.link_counts(session, kind=links.ACTOR_LINKS, owner_ids=actor_ids)


def _owner(row: ThreatActor) -> dict[str, Any]:
    data = row.attribution_data if isinstance(row.attribution_data, dict) else {}
    owner = data.get(OWNER_KEY)
    return owner if isinstance(owner, dict) else {}


def tools_of(row: ThreatActor) -> list[ToolRef]:
    """The actor's tools: an analyst's by name, then ATT&CK's software."""
    tools = []
    for item in row.known_tools or ():
        if isinstance(item, str):
            tools.append(ToolRef(name=item, source="analyst"))
        elif isinstance(item, dict) and item.get("name"):
            tools.append(
                ToolRef(
                    name=str(item["name"]),
                    attack_id=item.get("attack_id"),
                    type=item.get("type"),
                    domain=item.get("domain"),
                    source="attack" if "attack_id" in item else "analyst",
                )
            )
    return tools


def actor_read(row: ThreatActor, indicator_count: int) -> ActorRead:
    """An actor as listed."""
    attack_id = _owner(row).get("attack_id")
    return ActorRead(
        id=row.id,
        actor_name=row.actor_name,
        aliases=[str(a) for a in row.aliases or ()],
        description=row.description,
        sophistication=row.sophistication,
        motivations=list(row.motivations or ()),
        target_industries=list(row.target_industries or ()),
        target_countries=list(row.target_countries or ()),
        known_tools=tools_of(row),
        attack_id=str(attack_id) if attack_id else None,
        first_observed=row.first_observed,
        last_observed=row.last_observed,
        tlp=tlps.actor_tlp(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        indicator_count=indicator_count,
    )


def techniques_of(session: Session, row: ThreatActor) -> list[TechniqueUse]:
    """What the actor does: ATT&CK's techniques for it, an analyst's, and those mapped to
    indicators linked to it, each once with every source that names it."""
    sources: dict[str, list[UseSource]] = {}
    names: dict[str, str] = {}
    for block in (_owner(row).get("domains") or {}).values():
        for item in (block or {}).get("techniques") or ():
            if isinstance(item, dict) and item.get("attack_id"):
                sources.setdefault(item["attack_id"], []).append("attack")
                names[item["attack_id"]] = str(item.get("name") or item["attack_id"])
    data = row.attribution_data if isinstance(row.attribution_data, dict) else {}
    for technique_id in data.get(TECHNIQUES_KEY) or ():
        sources.setdefault(str(technique_id), []).append("analyst")
    mapped = session.scalars(
        select(IndicatorTechnique.technique_id)
        .join(ActorIndicator, ActorIndicator.indicator_id == IndicatorTechnique.indicator_id)
        .where(ActorIndicator.actor_id == row.id)
        .distinct()
    )
    for technique_id in mapped:
        sources.setdefault(technique_id, []).append("indicators")
    names.update(links.technique_names(session, sources))
    return [
        TechniqueUse(
            technique_id=technique_id,
            name=names.get(technique_id),
            sources=list(dict.fromkeys(found)),
        )
        for technique_id, found in sorted(sources.items())
    ]


def actor_detail(session: Session, row: ThreatActor) -> ActorDetail:
    """An actor's profile: its tools, techniques, campaigns and linked indicators count."""
    campaigns = session.execute(
        select(ThreatCampaign.id, ThreatCampaign.campaign_name, ThreatCampaign.status)
        .where(attributed_to(session, row.id))
        .order_by(ThreatCampaign.campaign_name, ThreatCampaign.id)
    )
    count = indicator_counts(session, [row.id]).get(row.id, 0)
    return ActorDetail(
        **actor_read(row, count).model_dump(),
        techniques=techniques_of(session, row),
        campaigns=[CampaignRef(id=i, campaign_name=n, status=s) for i, n, s in campaigns],
        attribution_data=dict(row.attribution_data)
        if isinstance(row.attribution_data, dict)
        else {},
    )
