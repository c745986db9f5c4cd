"""What the named knowledge objects (threat actors, threat campaigns, threat reports, IOC
collections) share: a lookup that is 404 when the row is absent, a name every row needs
(unique in any case, for most), audited create, update and delete with old and new values,
and filtered keyset lists in the order a client picks.

Each object's module describes itself once as a ``Kind`` (its table, its noun, its fields,
how a new row starts and how its own fields are applied) and keeps only what is its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.db.pagination import PageResult, paginate_sorted
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.sharing import tlp as tlps


class _Identified(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


Row = TypeVar("Row", bound=_Identified)


@dataclass(frozen=True)
class Kind(Generic[Row]):
    """One kind of named knowledge object."""

    model: type[Row]
    resource: str
    """The audit log's resource type; actions are ``<resource>.create`` and so on."""
    noun: str
    """How problems name one: ``No {noun} {id}.``"""
    article: str
    """``a`` or ``an``, before the noun."""
    name: str
    """The field (and column) that names a row: every row needs one."""
    unnamed: str
    """Why a row without a name is refused."""
    fields: frozenset[str]
    """What create and update accept, the name among them."""
    sorts: Mapping[str, InstrumentedAttribute[Any]]
    """The orders of a list, by the name a client gives."""
    new: Callable[[Actor], Row]
    """A new, empty row made by this actor, with its defaults."""
    apply: Callable[[Session, Row, Mapping[str, Any]], None]
    """Set the fields given other than the name, checking them."""
    unique: bool = True
    """Whether names are unique in any case (a second one is 409)."""
    detach: Callable[[Session, Row], dict[str, Any]] | None = None
    """What deleting a row changes elsewhere, done first; it returns the audit's details."""


def _column(kind: Kind[Any], name: str) -> InstrumentedAttribute[Any]:
    return cast(InstrumentedAttribute[Any], getattr(kind.model, name))


def get(session: Session, kind: Kind[Row], row_id: uuid.UUID) -> Row:
    """The row with this id; ``NotFound`` when there is none."""
    row = session.get(kind.model, row_id)
    if row is None:
        raise NotFound(f"No {kind.noun} {row_id}.")
    return row


def by_name(session: Session, kind: Kind[Row], name: str) -> Row | None:
    """The row named exactly ``name``, else one named so in another case; None when none is."""
    column = _column(kind, kind.name)
    # The exact match first: where names differ only in case it is the one meant, and the
    # engine's lower() may not fold what Python's does (SQLite folds ASCII only).
    row = session.scalar(select(kind.model).where(column == name))
    if row is None:
        row = session.scalar(select(kind.model).where(func.lower(column) == name.lower()).limit(1))
    return row


def _name_free(session: Session, kind: Kind[Any], name: str, *, other_than: uuid.UUID) -> None:
    column, ident = _column(kind, kind.name), _column(kind, "id")
    # The exact match is what the unique index enforces; lower() alone misses it where the
    # engine's lower() and Python's disagree (SQLite folds ASCII only).
    clash = session.scalar(
        select(ident).where(
            or_(column == name, func.lower(column) == name.lower()), ident != other_than
        )
    )
    if clash is not None:
        raise Conflict(
            f"{kind.article.capitalize()} {kind.noun} named {name!r} exists.", field=kind.name
        )


def _apply(session: Session, kind: Kind[Row], row: Row, values: Mapping[str, Any]) -> None:
    unknown = set(values) - kind.fields
    if unknown:
        raise Invalid(sorted(unknown)[0], f"not a field of {kind.article} {kind.noun}")
    if kind.name in values:
        name = values[kind.name]
        if name is None:
            raise Invalid(kind.name, kind.unnamed)
        if kind.unique:
            _name_free(session, kind, name, other_than=row.id)
        setattr(row, kind.name, name)
    kind.apply(session, row, values)


def create(session: Session, kind: Kind[Row], *, actor: Actor, values: Mapping[str, Any]) -> Row:
    """A new row of ``values``, audited; its name is required and, when unique, free."""
    if not values.get(kind.name):
        raise Invalid(kind.name, kind.unnamed)
    row = kind.new(actor)
    _apply(session, kind, row, values)
    audit.created(session, row, actor=actor, resource_type=kind.resource)
    return row


def update(
    session: Session, kind: Kind[Row], row: Row, *, actor: Actor, changes: Mapping[str, Any]
) -> Row:
    """Change the fields given, auditing the old and new values of those that changed."""
    before = audit.snapshot(row)
    _apply(session, kind, row, changes)
    changed(session, row, actor=actor, resource_type=kind.resource, before=before)
    return row


def delete(session: Session, kind: Kind[Row], row: Row, *, actor: Actor) -> None:
    """Delete a row (and, first, what ``kind.detach`` changes elsewhere), audited."""
    details = kind.detach(session, row) if kind.detach is not None else None
    deleted(session, row, actor=actor, resource_type=kind.resource, details=details)


def changed(
    session: Session,
    row: Any,
    *,
    actor: Actor,
    resource_type: str,
    before: dict[str, Any],
    action: str = "update",
) -> bool:
    """Audit what changed in ``row`` since ``before`` (its snapshot) as
    ``<resource_type>.<action>``; nothing when nothing did. Whether anything did."""
    session.flush()
    old, new = audit.changes(before, audit.snapshot(row))
    if not (old or new):
        return False
    audit.record(
        session,
        actor=actor,
        action=f"{resource_type}.{action}",
        resource_type=resource_type,
        resource_id=row.id,
        old_values=old,
        new_values=new,
    )
    return True


def deleted(
    session: Session,
    row: Any,
    *,
    actor: Actor,
    resource_type: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Delete ``row`` and audit it (``<resource_type>.delete``) with its last values."""
    snapshot = audit.snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"{resource_type}.delete",
        resource_type=resource_type,
        resource_id=snapshot["id"],
        old_values=snapshot,
        details=details,
    )


def page(
    session: Session,
    kind: Kind[Row],
    statement: Select[Any],
    *,
    sort: str,
    limit: int,
    cursor: str | None,
) -> PageResult[Row]:
    """A keyset page of ``statement`` (already filtered) in one of the kind's orders."""
    return paginate_sorted(
        session,
        statement,
        sort=sort,
        columns=kind.sorts,
        tie=_column(kind, "id"),
        limit=limit,
        cursor=cursor,
    )


# --- what actors and campaigns share: ATT&CK's part of a row, observation dates -------------


def imported(items: Any) -> list[Any]:
    """The items of a JSON list that the ATT&CK import wrote (they carry an ``attack_id``)."""
    return [i for i in items or () if isinstance(i, dict) and "attack_id" in i]


def as_utc(value: datetime | None) -> datetime | None:
    """A time in UTC; one without a zone is read as UTC, as the columns store it."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def apply_observed(row: Any, values: Mapping[str, Any]) -> None:
    """Set ``first_observed`` and ``last_observed`` when given; the first is never after the
    last, whichever of them changed."""
    for key in ("first_observed", "last_observed"):
        if key in values:
            setattr(row, key, as_utc(values[key]))
    first, last = as_utc(row.first_observed), as_utc(row.last_observed)
    if first is not None and last is not None and first > last:
        raise Invalid("first_observed", "must not be after last_observed")


def observed_within(
    statement: Select[Any], model: Any, *, after: datetime | None, before: datetime | None
) -> Select[Any]:
    """Keep the rows last observed at or after ``after`` and first observed before ``before``."""
    if after is not None:
        statement = statement.where(model.last_observed >= after)
    if before is not None:
        statement = statement.where(model.first_observed < before)
    return statement


# --- TLP in a JSON column -------------------------------------------------------------------


def with_tlp(document: Any, values: Mapping[str, Any], *, field: str) -> dict[str, Any]:
    """A row's JSON column (``metadata``, ``attribution_data``) as ``values`` change it.

    ``values[field]`` replaces the document but never its ``tlp``, which only the ``tlp``
    field sets (null removes it): replacing the notes must not loosen the marking. A ``tlp``
    inside the new document is accepted only when it says the same.
    """
    current = dict(document) if isinstance(document, dict) else {}
    wanted = (
        tlps.parse_tlp(values[tlps.TLP_KEY])
        if tlps.TLP_KEY in values
        else tlps.of_document(current)
    )
    result = current
    if field in values:
        given = dict(values[field] or {})
        if tlps.TLP_KEY in given:
            stated = tlps.parse_tlp(given.pop(tlps.TLP_KEY), field=f"{field}.tlp")
            if stated != wanted:
                raise Invalid(f"{field}.tlp", "set the marking with the tlp field")
        result = given
    if wanted is None:
        result.pop(tlps.TLP_KEY, None)
    else:
        # An unchanged marking keeps its stored spelling, so the audit sees no change.
        result[tlps.TLP_KEY] = wanted if tlps.TLP_KEY in values else current[tlps.TLP_KEY]
    return result
