"""What an export shares: one IOC collection, actor, campaign, threat report or indicator query,
resolved into the knowledge rows it takes along.

Shared by the STIX and MISP exports, so both agree on what "the Emotet C2 collection" or
"APT28" means:

- an actor: the actor, the indicators linked to it (``actor_indicators``), the campaigns
  attributed to it, and the ATT&CK techniques it uses;
- a campaign: the campaign, its indicators (``campaign_indicators``), the actors it is
  attributed to, and the techniques it used;
- a collection: its indicators; a report: the indicators it references; a query: the
  indicators the indicator search filters find (:func:`parse_query`).

Every selection also takes the techniques analysts mapped its indicators to
(``indicator_techniques``), so an export can say what each indicator is evidence of.
Names match in any case; an id works too. Big selections need not be loaded:
:func:`resolve` with ``load_indicators=False`` leaves the indicators as a statement
(:attr:`Selection.indicator_query`) for an exporter to stream.

A selection is made for an audience (:class:`krsn.sharing.tlp.Audience`): what TLP does not
release to it is left out and counted (:attr:`Selection.withheld`), indicators in SQL, so an
exporter only ever sees what it may send. A container the audience may not receive (a red
report, a collection marked amber+strict for another organization) is refused whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.errors import Forbidden, Invalid, NotFound
from krsn.identity.models import Role
from krsn.indicators import service as indicator_service
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.normalise import Indicator, normalise
from krsn.sharing import tlp as tlps
from krsn.sharing.attack import OWNER_KEY
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    CollectionIndicator,
    IndicatorTechnique,
    IocCollection,
    MitreTechnique,
    ThreatActor,
    ThreatCampaign,
    ThreatReport,
)

_Row = TypeVar("_Row", IocCollection, ThreatActor, ThreatCampaign, ThreatReport)
_Choice = TypeVar("_Choice", IndicatorType, Severity)

SELECTORS = ("collection", "actor", "campaign", "report", "query")

# Query keys as people type them → the keyword of indicators.service.indicator_query.
QUERY_KEYS: dict[str, str] = {
    "type": "indicator_type",
    "indicator_type": "indicator_type",
    "severity": "severity",
    "active": "is_active",
    "is_active": "is_active",
    "source": "source",
    "feed": "feed",
    "tag": "tags",
    "tags": "tags",
    "malware_family": "malware_family",
    "family": "malware_family",
    "q": "q",
    "value": "q",
    "first_seen_after": "first_seen_after",
    "first_seen_before": "first_seen_before",
    "last_seen_after": "last_seen_after",
    "last_seen_before": "last_seen_before",
}
_LIST_SEPARATOR = ","
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


@dataclass
class Selection:
    """The rows one export shares, with a title a person recognises."""

    title: str  # e.g. "IOC collection: Emotet C2"
    indicators: list[ThreatIndicator]
    actors: list[ThreatActor]
    campaigns: list[ThreatCampaign]
    reports: list[ThreatReport]
    techniques: list[MitreTechnique]
    kind: str = ""
    """Which selector made it: one of :data:`SELECTORS` ("" for a hand-made selection)."""
    collection: IocCollection | None = None
    """The collection selected, for the reader check (:func:`readable_by`)."""
    tlp: str | None = None
    """The TLP the selected container carries (a report's, a collection's, an actor's):
    exports mark everything they share at least this strictly."""
    indicator_query: sa.Select[Any] | None = None
    """``select(ThreatIndicator)`` of exactly the selected indicators; when set, exporters
    may stream it instead of reading :attr:`indicators` (left empty by a lazy resolve)."""
    indicator_total: int | None = field(default=None, compare=False)
    """How many indicators the statement gives, when known."""
    owner_organization_id: uuid.UUID | None = None
    """The organization owning the container (its creator's, author's or analyst's): the
    one that receives its AMBER+STRICT objects."""
    withheld: dict[str, int] = field(default_factory=dict)
    """Objects TLP kept from the audience, by kind ("indicators", "actors", "campaigns")."""
    refused: str | None = None
    """Why the container itself may not go to the audience (then nothing is selected);
    :meth:`check_released` raises it."""

    def check_released(self) -> None:
        """``Forbidden`` when TLP keeps the selected container from the audience."""
        if self.refused is not None:
            raise Forbidden(self.refused)

    @property
    def withheld_total(self) -> int:
        """How many objects TLP kept from the audience, of every kind."""
        return sum(self.withheld.values())


def parse_query(text: str) -> dict[str, str]:
    """``"type=ip,severity=high,tag=emotet"`` as indicator search filters.

    Keys are those of :data:`QUERY_KEYS`; a repeated ``tag`` adds a tag (all must be on the
    indicator). Values are checked when the selection is resolved.
    """
    filters: dict[str, str] = {}
    for part in text.split(_LIST_SEPARATOR):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key or not value:
            raise Invalid("query", f"write each filter as key=value, not {part.strip()!r}")
        if key not in QUERY_KEYS:
            raise Invalid(
                "query", f"unknown filter {key!r}; known: {', '.join(sorted(QUERY_KEYS))}"
            )
        if QUERY_KEYS[key] == "tags" and key in filters:
            filters[key] = f"{filters[key]}{_LIST_SEPARATOR}{value}"
        elif key in filters:
            raise Invalid("query", f"{key} is given twice")
        else:
            filters[key] = value
    return filters


def select(
    session: Session,
    *,
    collection: str | None = None,
    actor: str | None = None,
    campaign: str | None = None,
    report: str | None = None,
    query: Mapping[str, str] | None = None,
    limit: int | None = None,
    audience: tlps.Audience = tlps.OPERATOR_EXPORT,
) -> Selection:
    """Resolve exactly one selector into its rows; ``Invalid`` unless exactly one is given,
    ``NotFound`` when it names nothing."""
    return resolve(
        session,
        collection=collection,
        actor=actor,
        campaign=campaign,
        report=report,
        query=query,
        limit=limit,
        load_indicators=True,
        audience=audience,
    )


def resolve(
    session: Session,
    *,
    collection: str | None = None,
    actor: str | None = None,
    campaign: str | None = None,
    report: str | None = None,
    query: Mapping[str, str] | None = None,
    limit: int | None = None,
    load_indicators: bool = True,
    audience: tlps.Audience = tlps.OPERATOR_EXPORT,
) -> Selection:
    """:func:`select`, leaving the indicators as a statement to stream unless
    ``load_indicators``; ``limit`` caps the indicators (most recently changed first).

    Only what TLP releases to ``audience`` is selected (by default the local operator's
    direct export: everything); the rest is counted in :attr:`Selection.withheld`.
    ``Forbidden`` when the container itself may not go to the audience."""
    given = {
        name: value
        for name, value in zip(SELECTORS, (collection, actor, campaign, report, query), strict=True)
        if value is not None
    }
    if len(given) != 1:
        raise Invalid("selection", f"give exactly one of {', '.join(SELECTORS)}")
    if limit is not None and limit < 1:
        raise Invalid("limit", "must be at least 1")
    if query is not None:
        selection, ids = _by_query(session, query)
    elif collection is not None:
        selection, ids = _by_collection(session, collection)
    elif actor is not None:
        selection, ids = _by_actor(session, actor, audience)
    elif campaign is not None:
        selection, ids = _by_campaign(session, campaign, audience)
    else:
        selection, ids = _by_report(session, str(report))
    ids = _release(session, selection, ids, audience)
    ids = ids.order_by(ThreatIndicator.updated_at.desc(), ThreatIndicator.id)
    if limit is not None:
        ids = ids.limit(limit)
    statement = (
        sa.select(ThreatIndicator)
        .where(ThreatIndicator.id.in_(ids))
        .order_by(ThreatIndicator.updated_at.desc(), ThreatIndicator.id)
    )
    selection.indicator_query = statement
    selection.indicator_total = int(
        session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0
    )
    _add_indicator_techniques(session, selection, ids)
    if load_indicators:
        selection.indicators = list(session.scalars(statement))
    return selection


def readable_by(selection: Selection, *, user_id: uuid.UUID | None, role: Role) -> bool:
    """Whether this person may read the selection: a private collection only its owner and
    admins, as the collections API shows them."""
    found = selection.collection
    if found is None or found.is_public:
        return True
    return role == Role.ADMIN or (user_id is not None and found.created_by == user_id)


# --- Finding the selected row --------------------------------------------------------------


def _one_named(
    session: Session,
    model: type[_Row],
    name_column: InstrumentedAttribute[str],
    given: str,
    noun: str,
) -> _Row:
    text = given.strip()
    if not text:
        raise Invalid(noun.replace(" ", "_"), "must not be empty")
    as_id = _as_uuid(text)
    if as_id is not None:
        found = session.get(model, as_id)
        if found is not None:
            return found
    # The exact name too: SQLite's lower() folds ASCII only, so 'Ä' would miss itself.
    rows = list(
        session.scalars(
            sa.select(model)
            .where(sa.or_(name_column == text, sa.func.lower(name_column) == text.lower()))
            .limit(10)
        )
    )
    exact = [row for row in rows if getattr(row, name_column.key) == text]
    if len(exact) == 1:
        return exact[0]
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise NotFound(f"No {noun} is called {given!r} (or has that id).")
    raise Invalid(noun.replace(" ", "_"), f"{given!r} names {len(rows)} of them; give the id")


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _empty(title: str, kind: str) -> Selection:
    return Selection(
        title=title, indicators=[], actors=[], campaigns=[], reports=[], techniques=[], kind=kind
    )


def _by_collection(session: Session, given: str) -> tuple[Selection, sa.Select[Any]]:
    found = _one_named(session, IocCollection, IocCollection.name, given, "IOC collection")
    selection = _empty(f"IOC collection: {found.name}", "collection")
    selection.collection = found
    selection.tlp = tlps.collection_tlp(found)
    selection.owner_organization_id = tlps.organization_of(session, found.created_by)
    ids = sa.select(CollectionIndicator.indicator_id).where(
        CollectionIndicator.collection_id == found.id
    )
    return selection, _indicators_in(ids)


def _by_actor(
    session: Session, given: str, audience: tlps.Audience
) -> tuple[Selection, sa.Select[Any]]:
    found = _one_named(session, ThreatActor, ThreatActor.actor_name, given, "threat actor")
    selection = _empty(f"Threat actor: {found.actor_name}", "actor")
    selection.actors = [found]
    selection.tlp = tlps.actor_tlp(found)
    campaigns = [
        campaign
        for campaign in session.scalars(
            sa.select(ThreatCampaign).order_by(ThreatCampaign.campaign_name)
        )
        if found.id in attributed_actor_ids(session, campaign, {found.actor_name.lower(): found.id})
    ]
    # Campaigns TLP keeps from the audience take their techniques with them.
    selection.campaigns = [
        campaign
        for campaign in campaigns
        if _released(
            selection,
            audience,
            tlps.campaign_tlp(campaign),
            tlps.organization_of(session, campaign.analyst_id),
            "campaigns",
        )
    ]
    wanted = set(actor_technique_ids(found))
    for campaign in selection.campaigns:
        wanted.update(campaign_technique_ids(campaign))
    selection.techniques = _techniques(session, wanted)
    ids = sa.select(ActorIndicator.indicator_id).where(ActorIndicator.actor_id == found.id)
    return selection, _indicators_in(ids)


def _by_campaign(
    session: Session, given: str, audience: tlps.Audience
) -> tuple[Selection, sa.Select[Any]]:
    found = _one_named(session, ThreatCampaign, ThreatCampaign.campaign_name, given, "campaign")
    selection = _empty(f"Campaign: {found.campaign_name}", "campaign")
    selection.campaigns = [found]
    selection.tlp = tlps.campaign_tlp(found)
    selection.owner_organization_id = tlps.organization_of(session, found.analyst_id)
    actor_ids = attributed_actor_ids(session, found, None)
    if actor_ids:
        actors = session.scalars(
            sa.select(ThreatActor)
            .where(ThreatActor.id.in_(actor_ids))
            .order_by(ThreatActor.actor_name)
        )
        # Actors have no owner: an AMBER+STRICT one goes to admins only.
        selection.actors = [
            actor
            for actor in actors
            if _released(selection, audience, tlps.actor_tlp(actor), None, "actors")
        ]
    selection.techniques = _techniques(session, set(campaign_technique_ids(found)))
    ids = sa.select(CampaignIndicator.indicator_id).where(CampaignIndicator.campaign_id == found.id)
    return selection, _indicators_in(ids)


def _by_report(session: Session, given: str) -> tuple[Selection, sa.Select[Any]]:
    found = _one_named(session, ThreatReport, ThreatReport.title, given, "threat report")
    selection = _empty(f"Threat report: {found.title}", "report")
    selection.reports = [found]
    selection.tlp = tlps.report_tlp(found)
    selection.owner_organization_id = tlps.organization_of(session, found.author_id)
    ids, values = _referenced(found.indicators_referenced)
    match: list[sa.ColumnElement[bool]] = []
    if ids:
        match.append(ThreatIndicator.id.in_(ids))
    if values:
        match.append(ThreatIndicator.indicator_value.in_(values))
    statement = sa.select(ThreatIndicator.id).where(sa.or_(*match) if match else sa.false())
    return selection, statement


def _by_query(session: Session, query: Mapping[str, str]) -> tuple[Selection, sa.Select[Any]]:
    filters = _filters(query)
    shown = ", ".join(f"{key}={value}" for key, value in sorted(query.items()))
    selection = _empty(f"Indicator query: {shown or 'every indicator'}", "query")
    statement = indicator_service.indicator_query(session, **filters)
    return selection, statement.with_only_columns(ThreatIndicator.id)


def _released(
    selection: Selection,
    audience: tlps.Audience,
    level: str | None,
    owner: uuid.UUID | None,
    kind: str,
) -> bool:
    """Whether an object beside the container goes to the audience; counted when not."""
    if audience.allows(tlps.strictest(selection.tlp, level), owner_organization_id=owner):
        return True
    selection.withheld[kind] = selection.withheld.get(kind, 0) + 1
    return False


def _count(session: Session, ids: sa.Select[Any]) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0)


def _release(
    session: Session, selection: Selection, ids: sa.Select[Any], audience: tlps.Audience
) -> sa.Select[Any]:
    """Keep to what TLP releases to the audience: the container, or nothing (the selection
    then says why, :attr:`Selection.refused`); the indicators by their own TLP, in SQL."""
    owner = selection.owner_organization_id
    if not audience.allows(selection.tlp, owner_organization_id=owner):
        level = (selection.tlp or "red").upper()
        selection.refused = (
            f"{selection.title} is marked TLP:{level}; it is not released to you"
            f"{_OVER.get(audience.channel, '')}."
        )
        withheld = {
            "indicators": _count(session, ids),
            "actors": len(selection.actors),
            "campaigns": len(selection.campaigns),
            "reports": len(selection.reports),
        }
        for kind, count in withheld.items():
            selection.withheld[kind] = selection.withheld.get(kind, 0) + count
        selection.actors, selection.campaigns, selection.reports = [], [], []
        selection.techniques = []
        return ids.where(sa.false())
    if audience.levels(owner_organization_id=owner) == list(tlps.TLP_LEVELS):
        return ids  # every level goes: nothing to withhold, nothing to count
    stated = ThreatIndicator.metadata_[tlps.TLP_KEY].as_string()
    kept = ids.where(tlps.released(stated, audience, owner_organization_id=owner))
    kept_back = _count(session, ids) - _count(session, kept)
    if kept_back:
        selection.withheld["indicators"] = selection.withheld.get("indicators", 0) + kept_back
    return kept


_OVER = {
    tlps.Channel.TAXII: " over TAXII",
    tlps.Channel.FEED: " in a feed",
}


def _indicators_in(ids: sa.Select[Any]) -> sa.Select[Any]:
    return sa.select(ThreatIndicator.id).where(ThreatIndicator.id.in_(ids))


def _add_indicator_techniques(session: Session, selection: Selection, ids: sa.Select[Any]) -> None:
    have = {technique.technique_id for technique in selection.techniques}
    mapped = sa.select(IndicatorTechnique.technique_id).where(
        IndicatorTechnique.indicator_id.in_(ids.subquery().select())
    )
    more = set(session.scalars(mapped.distinct())) - have
    if more:
        selection.techniques = sorted(
            [*selection.techniques, *_techniques(session, more)], key=lambda t: t.technique_id
        )


def _techniques(session: Session, wanted: set[str]) -> list[MitreTechnique]:
    if not wanted:
        return []
    return list(
        session.scalars(
            sa.select(MitreTechnique)
            .where(MitreTechnique.technique_id.in_(sorted(wanted)))
            .order_by(MitreTechnique.technique_id)
        )
    )


# --- What the JSON columns say -------------------------------------------------------------


def _technique_ref(item: Any) -> str | None:
    if isinstance(item, str):
        return item.strip().upper() or None
    if isinstance(item, dict):
        for key in ("attack_id", "technique_id"):
            if isinstance(item.get(key), str):
                return str(item[key]).strip().upper() or None
    return None


def actor_technique_ids(actor: ThreatActor) -> list[str]:
    """The ATT&CK techniques an actor uses, as ATT&CK said (in every imported domain)."""
    data = actor.attribution_data if isinstance(actor.attribution_data, dict) else {}
    owner = data.get(OWNER_KEY)
    found: set[str] = set()
    if isinstance(owner, dict):
        for block in (owner.get("domains") or {}).values():
            if isinstance(block, dict):
                found.update(filter(None, map(_technique_ref, block.get("techniques") or ())))
    # An analyst may list techniques of their own beside ATT&CK's.
    found.update(filter(None, map(_technique_ref, data.get("techniques") or ())))
    return sorted(found)


def campaign_technique_ids(campaign: ThreatCampaign) -> list[str]:
    """The ATT&CK techniques a campaign used."""
    items = campaign.techniques if isinstance(campaign.techniques, list) else []
    return sorted(set(filter(None, map(_technique_ref, items))))


def attributed_actor_ids(
    session: Session, campaign: ThreatCampaign, names: Mapping[str, uuid.UUID] | None = None
) -> set[uuid.UUID]:
    """The actors a campaign is attributed to: by id (the ATT&CK import writes ``actor_id``)
    or by name. ``names`` (lower-cased name → id) limits the look-up to known actors."""
    found: set[uuid.UUID] = set()
    wanted_names: set[str] = set()
    items = campaign.attributed_actors if isinstance(campaign.attributed_actors, list) else []
    for item in items:
        candidates: list[Any] = []
        if isinstance(item, str):
            candidates = [item]
        elif isinstance(item, dict):
            candidates = [item.get("actor_id"), item.get("id"), item.get("name")]
            candidates.append(item.get("actor_name"))
        for candidate in candidates:
            if not isinstance(candidate, str) or not candidate.strip():
                continue
            as_id = _as_uuid(candidate.strip())
            if as_id is not None:
                found.add(as_id)
                break
            wanted_names.add(candidate.strip().lower())
    if names is not None:
        found.update(names[name] for name in wanted_names if name in names)
        return found & set(names.values())
    if wanted_names:
        found.update(
            session.scalars(
                sa.select(ThreatActor.id).where(
                    sa.func.lower(ThreatActor.actor_name).in_(sorted(wanted_names))
                )
            )
        )
    return found


def _referenced(value: Any) -> tuple[list[uuid.UUID], list[str]]:
    """The indicator ids and values a report's ``indicators_referenced`` names."""
    items: Iterable[Any] = value if isinstance(value, list) else []
    ids: list[uuid.UUID] = []
    values: list[str] = []
    for item in items:
        texts: list[Any] = [item]
        if isinstance(item, dict):
            texts = [item.get(k) for k in ("id", "indicator_id", "value", "indicator_value")]
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                continue
            as_id = _as_uuid(text.strip())
            if as_id is not None:
                ids.append(as_id)
                continue
            values.append(text.strip())
            # Reports quote values as people write them (defanged, mixed case).
            canonical = normalise(text)
            if isinstance(canonical, Indicator):
                values.append(canonical.value)
    return ids, sorted(set(values))


# --- Query filters --------------------------------------------------------------------------


def _filters(query: Mapping[str, str]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for key, raw in query.items():
        name = QUERY_KEYS.get(key.strip().lower())
        if name is None:
            raise Invalid(
                "query", f"unknown filter {key!r}; known: {', '.join(sorted(QUERY_KEYS))}"
            )
        value = str(raw).strip()
        if name == "indicator_type":
            filters[name] = _choice(IndicatorType, value, key)
        elif name == "severity":
            filters[name] = _choice(Severity, value, key)
        elif name == "is_active":
            if value.lower() not in _TRUE | _FALSE:
                raise Invalid("query", f"{key} must be true or false, not {value!r}")
            filters[name] = value.lower() in _TRUE
        elif name == "tags":
            tags = [tag.strip() for tag in value.split(_LIST_SEPARATOR) if tag.strip()]
            filters[name] = [*filters.get(name, ()), *tags]
        elif name.endswith(("_after", "_before")):
            filters[name] = _moment(value, key)
        else:
            filters[name] = value
    return filters


def _choice(enum: type[_Choice], value: str, key: str) -> _Choice:
    try:
        return enum(value.lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise Invalid("query", f"{key} must be one of {choices}, not {value!r}") from None


def _moment(value: str, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise Invalid("query", f"{key} must be an ISO 8601 time, not {value!r}") from None
