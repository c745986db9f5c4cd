"""Indicators linked to actors, campaigns and techniques (one row per pair, with who, when,
how sure and why), the techniques themselves as an analyst sees them (ATT&CK's, listed, and
custom ones, written), and what every knowledge list shares: finding indicators by id or
value and searching inside JSON lists.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.db.base import Base
from krsn.db.pagination import PageResult, paginate_sorted
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.normalise import Indicator, normalise
from krsn.sharing import attack, knowledge
from krsn.sharing.models import (
    ActorIndicator,
    CampaignIndicator,
    IndicatorTechnique,
    MitreTechnique,
    ThreatActor,
    ThreatCampaign,
)
from krsn.sharing.schemas import TechniqueDetail, TechniqueRead

# Bound parameters per statement stay well under SQLite's and PostgreSQL's limits.
CHUNK = 1000


# --- searching, shared by every knowledge list ---------------------------------------------


def _elements(session: Session, column: Any) -> Any:
    """The elements of a JSON list column as a table with a ``value`` column."""
    if session.get_bind().dialect.name == "postgresql":
        # Lax '$[*]' makes a list of anything (JSON null, an object), where the elements
        # function would fail on a row that holds no list.
        array = func.jsonb_path_query_array(column, literal_column("'$[*]'::jsonpath"))
        return func.jsonb_array_elements_text(array).table_valued("value")
    return func.json_each(column).table_valued("value")


def list_contains(session: Session, column: Any, text: str) -> ColumnElement[bool]:
    """Some string of the JSON list ``column`` holds ``text``, in any case."""
    each = _elements(session, column)
    return (
        select(literal(1))
        .select_from(each)
        .where(func.lower(each.c.value).contains(text.lower(), autoescape=True))
        .exists()
    )


def list_holds(session: Session, column: Any, text: str) -> ColumnElement[bool]:
    """The JSON list ``column`` holds the string ``text`` exactly."""
    if session.get_bind().dialect.name == "postgresql":
        return sql_cast(column, JSONB).contains([text])
    each = _elements(session, column)
    return select(literal(1)).select_from(each).where(each.c.value == text).exists()


def name_matches(
    session: Session, name: InstrumentedAttribute[str], q: str, *lists: Any
) -> ColumnElement[bool]:
    """The name, or a string in one of the JSON lists, holds ``q`` in any case."""
    text = q.strip()
    if not text:
        raise Invalid("q", "must not be blank")
    # The exact text too: SQLite's lower() folds ASCII only.
    return or_(
        func.lower(name).contains(text.lower(), autoescape=True),
        name.contains(text, autoescape=True),
        *(list_contains(session, column, text) for column in lists),
    )


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """``items`` a slice at a time."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def count_by(session: Session, column: Any, values: Iterable[Any]) -> dict[Any, int]:
    """How many rows hold each of ``values`` in ``column``; a value no row holds is left out."""
    counts: dict[Any, int] = {}
    for part in chunks(sorted(set(values))):
        counts.update(
            (row[0], int(row[1]))
            for row in session.execute(
                select(column, func.count()).where(column.in_(part)).group_by(column)
            )
        )
    return counts


# --- indicators by id or value --------------------------------------------------------------


@dataclass
class Resolved:
    """What a list of indicator ids and values names: ids found, and the rest."""

    ids: list[uuid.UUID]
    not_found: list[str]
    unreadable: list[str]


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def resolve_indicators(session: Session, keys: Sequence[str]) -> Resolved:
    """The indicators that ids or values (defanged or not) name, in the order given, once each.

    A key reading as a UUID is an id first; when no indicator has that id it is read as a
    value, since 32 hex digits are an MD5 digest too.
    """
    by_id = {key: found for key in keys if (found := _as_uuid(key)) is not None}
    known: set[uuid.UUID] = set()
    wanted = sorted(set(by_id.values()))
    for part in chunks(wanted):
        known.update(
            session.scalars(select(ThreatIndicator.id).where(ThreatIndicator.id.in_(part)))
        )
    signatures: dict[str, str] = {}
    unreadable: list[str] = []
    for key in keys:
        if by_id.get(key) in known:
            continue
        result = normalise(key)
        if isinstance(result, Indicator):
            signatures[key] = result.signature
        elif key not in unreadable:
            unreadable.append(key)
    found_by_signature: dict[str, uuid.UUID] = {}
    distinct = sorted(set(signatures.values()))
    for part in chunks(distinct):
        found_by_signature.update(
            (row.hash_signature, row.id)
            for row in session.execute(
                select(ThreatIndicator.hash_signature, ThreatIndicator.id).where(
                    ThreatIndicator.hash_signature.in_(part)
                )
            )
        )
    ids: list[uuid.UUID] = []
    not_found: list[str] = []
    for key in keys:
        found = by_id.get(key) if by_id.get(key) in known else None
        if found is None and key in signatures:
            found = found_by_signature.get(signatures[key])
        if found is not None:
            if found not in ids:
                ids.append(found)
        elif key not in unreadable and key not in not_found:
            not_found.append(key)
    return Resolved(ids=ids, not_found=not_found, unreadable=unreadable)


def resolve_indicator(session: Session, key: str, *, field: str = "indicator") -> uuid.UUID:
    """The id of the indicator an id or a value names; ``Invalid`` for ``field`` otherwise."""
    resolved = resolve_indicators(session, [key])
    if resolved.unreadable:
        result = normalise(key)
        reason = result.reason if not isinstance(result, Indicator) else "not readable"
        raise Invalid(field, f"{key[:80]!r} is neither an indicator id nor a value: {reason}")
    if not resolved.ids:
        raise Invalid(field, f"no indicator has the id or value {key[:80]!r}")
    return resolved.ids[0]


def indicators_by_id(
    session: Session, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ThreatIndicator]:
    """The indicators with these ids, by id."""
    wanted = sorted(set(ids))
    found: dict[uuid.UUID, ThreatIndicator] = {}
    for part in chunks(wanted):
        found.update(
            (row.id, row)
            for row in session.scalars(select(ThreatIndicator).where(ThreatIndicator.id.in_(part)))
        )
    return found


def percent(value: float | None) -> Decimal | None:
    """A confidence as stored: two decimals."""
    return None if value is None else Decimal(str(round(float(value), 2)))


# --- links between indicators and actors, campaigns, techniques ----------------------------


@dataclass(frozen=True)
class LinkKind:
    """One link table: its owner column, its owner table and what its rows hold."""

    resource: str
    model: type[Base]
    owner_column: str
    owner_model: type[Base]
    owner_noun: str
    note: str
    """The column of the link's free text: its evidence, or notes."""
    at: str = "associated_at"
    by: str = "associated_by"
    has_relationship: bool = True

    @property
    def fields(self) -> frozenset[str]:
        extra = {"relationship_type"} if self.has_relationship else set()
        return frozenset({"confidence_score", self.note, *extra})


ACTOR_LINKS = LinkKind(
    resource="actor_indicator",
    model=ActorIndicator,
    owner_column="actor_id",
    owner_model=ThreatActor,
    owner_noun="threat actor",
    note="evidence",
)
CAMPAIGN_LINKS = LinkKind(
    resource="campaign_indicator",
    model=CampaignIndicator,
    owner_column="campaign_id",
    owner_model=ThreatCampaign,
    owner_noun="threat campaign",
    note="notes",
)
TECHNIQUE_LINKS = LinkKind(
    resource="indicator_technique",
    model=IndicatorTechnique,
    owner_column="technique_id",
    owner_model=MitreTechnique,
    owner_noun="technique",
    note="evidence",
    at="mapped_at",
    by="mapped_by",
    has_relationship=False,
)


def _owner(session: Session, kind: LinkKind, owner_id: Any) -> Any:
    found = session.get(kind.owner_model, owner_id)
    if found is None:
        raise NotFound(f"No {kind.owner_noun} {owner_id}.")
    return found


def _column(kind: LinkKind, name: str) -> InstrumentedAttribute[Any]:
    return cast(InstrumentedAttribute[Any], getattr(kind.model, name))


def _checked(kind: LinkKind, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - kind.fields
    if unknown:
        raise Invalid(sorted(unknown)[0], f"not a field of a {kind.resource} link")
    checked = dict(values)
    if "confidence_score" in checked:
        checked["confidence_score"] = percent(checked["confidence_score"])
    return checked


def list_links(
    session: Session, *, kind: LinkKind, owner_id: Any, limit: int = 50, cursor: str | None = None
) -> tuple[PageResult[Any], dict[uuid.UUID, ThreatIndicator]]:
    """A page of an owner's links, newest first, with the indicators they name."""
    _owner(session, kind, owner_id)
    statement = select(kind.model).where(_column(kind, kind.owner_column) == owner_id)
    result = paginate_sorted(
        session,
        statement,
        sort="-linked",
        columns={"linked": _column(kind, kind.at)},
        tie=_column(kind, "id"),
        limit=limit,
        cursor=cursor,
    )
    return result, indicators_by_id(session, (link.indicator_id for link in result.items))


def get_link(session: Session, *, kind: LinkKind, owner_id: Any, indicator_id: uuid.UUID) -> Any:
    """The link between an owner and an indicator."""
    _owner(session, kind, owner_id)
    link = session.scalar(
        select(kind.model).where(
            _column(kind, kind.owner_column) == owner_id,
            _column(kind, "indicator_id") == indicator_id,
        )
    )
    if link is None:
        raise NotFound(f"The indicator {indicator_id} is not linked to this {kind.owner_noun}.")
    return link


def add_link(
    session: Session,
    *,
    actor: Actor,
    kind: LinkKind,
    owner_id: Any,
    indicator: str,
    values: Mapping[str, Any],
) -> Any:
    """Link an indicator (by id or value) to an owner; a second link of the pair is 409."""
    _owner(session, kind, owner_id)
    indicator_id = resolve_indicator(session, indicator)
    clash = session.scalar(
        select(_column(kind, "id")).where(
            _column(kind, kind.owner_column) == owner_id,
            _column(kind, "indicator_id") == indicator_id,
        )
    )
    if clash is not None:
        raise Conflict(
            f"The indicator {indicator_id} is already linked to this {kind.owner_noun}; "
            "edit that link instead.",
            field="indicator",
        )
    link = kind.model(
        **{
            kind.owner_column: owner_id,
            "indicator_id": indicator_id,
            kind.by: actor.user_id,
            **_checked(kind, values),
        }
    )
    audit.created(session, link, actor=actor, resource_type=kind.resource)
    return link


def update_link(
    session: Session,
    *,
    actor: Actor,
    kind: LinkKind,
    owner_id: Any,
    indicator_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> Any:
    """Change a link's relationship type, confidence or note; only the fields given."""
    link = get_link(session, kind=kind, owner_id=owner_id, indicator_id=indicator_id)
    before = audit.snapshot(link)
    for key, value in _checked(kind, changes).items():
        setattr(link, key, value)
    knowledge.changed(session, link, actor=actor, resource_type=kind.resource, before=before)
    return link


def remove_link(
    session: Session, *, actor: Actor, kind: LinkKind, owner_id: Any, indicator_id: uuid.UUID
) -> None:
    """Remove the link between an owner and an indicator."""
    link = get_link(session, kind=kind, owner_id=owner_id, indicator_id=indicator_id)
    knowledge.deleted(session, link, actor=actor, resource_type=kind.resource)


def link_counts(session: Session, *, kind: LinkKind, owner_ids: Iterable[Any]) -> dict[Any, int]:
    """How many indicators each owner is linked to."""
    return count_by(session, _column(kind, kind.owner_column), owner_ids)


# --- techniques -----------------------------------------------------------------------------

_ATTACK_SHAPE = re.compile(r"^T\d{4}(\.\d{3})?$")
TECHNIQUE_SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "id": MitreTechnique.technique_id,
    "name": MitreTechnique.technique_name,
}


def _catalogued(session: Session) -> dict[str, dict[str, Any]]:
    """Each technique an ATT&CK import wrote, with its status and domain."""
    found: dict[str, dict[str, Any]] = {}
    for domain, catalog in attack.attack_catalogs(session).items():
        for technique_id, entry in (catalog.get("techniques") or {}).items():
            if isinstance(entry, dict):
                found[technique_id] = {**entry, "domain": domain}
    return found


def _tactics_of(row: MitreTechnique) -> list[str]:
    return [t for t in (row.tactic or "").split(attack.TACTIC_SEPARATOR) if t]


def technique_read(row: MitreTechnique, entry: Mapping[str, Any] | None) -> TechniqueRead:
    """A technique as listed, with what the ATT&CK catalog says of it (nothing for a custom one)."""
    entry = entry or {}
    return TechniqueRead(
        technique_id=row.technique_id,
        technique_name=row.technique_name,
        tactics=_tactics_of(row),
        platforms=[str(p) for p in row.platforms or ()],
        is_subtechnique=bool(entry.get("subtechnique", "." in row.technique_id)),
        status=str(entry.get("status") or "active"),
        domain=entry.get("domain"),
    )


def page_techniques(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "id",
    q: str | None = None,
    tactic: str | None = None,
    platform: str | None = None,
) -> tuple[PageResult[MitreTechnique], dict[str, dict[str, Any]]]:
    """A page of techniques (ATT&CK's and custom ones) by id, with the ATT&CK catalog entries.

    ``q`` is part of the id or the name; ``tactic`` a tactic's short name, name or id;
    ``platform`` one the technique runs on, exactly.
    """
    statement = select(MitreTechnique)
    if q is not None:
        statement = statement.where(
            or_(
                name_matches(session, MitreTechnique.technique_name, q),
                MitreTechnique.technique_id.contains(q.strip().upper(), autoescape=True),
            )
        )
    if tactic is not None:
        name = attack.resolve_tactic(session, tactic)
        column = MitreTechnique.tactic
        separator = attack.TACTIC_SEPARATOR
        statement = statement.where(
            or_(
                column == name,
                column.startswith(f"{name}{separator}", autoescape=True),
                column.endswith(f"{separator}{name}", autoescape=True),
                column.contains(f"{separator}{name}{separator}", autoescape=True),
            )
        )
    if platform is not None:
        statement = statement.where(list_holds(session, MitreTechnique.platforms, platform))
    result = paginate_sorted(
        session,
        statement,
        sort=sort,
        columns=TECHNIQUE_SORTS,
        tie=MitreTechnique.technique_id,
        limit=limit,
        cursor=cursor,
    )
    return result, _catalogued(session)


def get_technique(session: Session, technique_id: str) -> TechniqueDetail:
    """One technique's detail: ATT&CK's view of it, or the plain row of a custom one."""
    wanted = technique_id.strip().upper()
    if _ATTACK_SHAPE.match(wanted):
        return attack.get_technique(session, wanted)
    row = session.get(MitreTechnique, wanted)
    if row is None:
        raise NotFound(f"No technique {technique_id!r}.")
    links = session.scalar(
        select(func.count())
        .select_from(IndicatorTechnique)
        .where(IndicatorTechnique.technique_id == wanted)
    )
    return TechniqueDetail(
        **technique_read(row, None).model_dump(),
        description=row.description,
        data_sources=[str(s) for s in row.data_sources or ()],
        defenses_bypassed=[str(d) for d in row.defenses_bypassed or ()],
        analyst_links=int(links or 0),
    )


def _technique_values(values: Mapping[str, Any]) -> dict[str, Any]:
    checked = dict(values)
    if "tactics" in checked:
        tactics = checked.pop("tactics") or []
        joined = attack.TACTIC_SEPARATOR.join(tactics)
        if len(joined) > 255:
            raise Invalid("tactics", "at most 255 characters in all")
        checked["tactic"] = joined or None
    for key in ("platforms", "data_sources", "defenses_bypassed"):
        if key in checked and checked[key] is None:
            checked[key] = []
    if "technique_name" in checked and checked["technique_name"] is None:
        raise Invalid("technique_name", "a technique needs a name")
    return checked


def create_technique(
    session: Session, *, actor: Actor, technique_id: str, values: Mapping[str, Any]
) -> MitreTechnique:
    """A custom technique; an id already taken (by ATT&CK or by hand) is 409."""
    wanted = technique_id.strip().upper()
    if session.get(MitreTechnique, wanted) is not None:
        raise Conflict(f"A technique {wanted} exists.", field="technique_id")
    checked: dict[str, Any] = {"platforms": [], "data_sources": [], "defenses_bypassed": []}
    checked.update(_technique_values(values))
    row = MitreTechnique(technique_id=wanted, **checked)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="mitre_technique.create",
        resource_type="mitre_technique",
        resource_id=wanted,
        new_values=audit.snapshot(row),
    )
    return row


def technique_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """The names of the techniques with these ids (unknown ids left out)."""
    wanted = sorted(set(ids))
    names: dict[str, str] = {}
    for part in chunks(wanted):
        names.update(
            (row[0], row[1])
            for row in session.execute(
                select(MitreTechnique.technique_id, MitreTechnique.technique_name).where(
                    MitreTechnique.technique_id.in_(part)
                )
            )
        )
    return names


def known_techniques(session: Session, ids: Sequence[str], *, field: str) -> list[str]:
    """``ids`` once each, in order; ``Invalid`` naming the first that no technique has."""
    distinct = list(dict.fromkeys(ids))
    names = technique_names(session, distinct)
    missing = [i for i in distinct if i not in names]
    if missing:
        raise Invalid(
            field,
            f"no technique {missing[0]}; import ATT&CK or add it as a custom technique first",
        )
    return distinct
