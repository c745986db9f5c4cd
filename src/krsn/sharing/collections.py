"""IOC collections: named sets of indicators, public or private to their creator.

A private collection is invisible to everyone but its creator and admins: to them it does
not exist (404), so its name is the only thing another user can learn of it (a clash).
Only the creator or an admin changes a collection.

``indicator_count`` is recounted in SQL by every add and remove, after locking the
collection's row, so concurrent requests serialise on it and each count sees every link
committed before it. Reads count the links themselves, since deleting an indicator removes
its links (ON DELETE CASCADE) without passing through here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate_sorted
from krsn.db.types import utcnow
from krsn.errors import Forbidden, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator
from krsn.sharing import knowledge, links
from krsn.sharing import tlp as tlps
from krsn.sharing.models import CollectionIndicator, IocCollection
from krsn.sharing.schemas import CollectionChange


def visible_to(user_id: uuid.UUID | None, *, see_all: bool) -> ColumnElement[bool]:
    """The collections this user may see: public ones and their own (all, for admins)."""
    if see_all:
        return true()
    return or_(IocCollection.is_public.is_(True), IocCollection.created_by == user_id)


def get_collection(
    session: Session, collection_id: uuid.UUID, *, user_id: uuid.UUID | None, see_all: bool
) -> IocCollection:
    """A collection this user may see; a private one of someone else is 404, as if absent."""
    row = session.scalar(
        select(IocCollection).where(
            IocCollection.id == collection_id, visible_to(user_id, see_all=see_all)
        )
    )
    if row is None:
        raise NotFound(f"No IOC collection {collection_id}.")
    return row


def _writable(
    session: Session,
    collection_id: uuid.UUID,
    *,
    actor: Actor,
    see_all: bool,
    lock: bool = False,
) -> IocCollection:
    row = get_collection(session, collection_id, user_id=actor.user_id, see_all=see_all)
    if not see_all and row.created_by != actor.user_id:
        raise Forbidden("Only the collection's creator or an admin may change it.")
    if lock:
        # Every add and remove of this collection queues here, so each recount sees the
        # links the ones before it committed (PostgreSQL; SQLite has one writer anyway).
        session.execute(
            select(IocCollection.id).where(IocCollection.id == row.id).with_for_update()
        )
    return row


def _new(actor: Actor) -> IocCollection:
    return IocCollection(
        id=uuid.uuid4(), name="", is_public=False, created_by=actor.user_id, indicator_count=0
    )


def _apply(session: Session, row: IocCollection, values: Mapping[str, Any]) -> None:
    if "description" in values:
        row.description = values["description"]
    if "is_public" in values:
        if values["is_public"] is None:
            raise Invalid("is_public", "must be true or false")
        row.is_public = bool(values["is_public"])
    if "metadata" in values or tlps.TLP_KEY in values:
        # The marking lives in metadata.tlp; only the tlp field changes it.
        document = knowledge.with_tlp(row.metadata_, values, field="metadata")
        row.metadata_ = document or values.get("metadata", document)


KIND = knowledge.Kind(
    model=IocCollection,
    resource="ioc_collection",
    noun="IOC collection",
    article="an",
    name="name",
    unnamed="a collection needs a name",
    fields=frozenset({"name", "description", "is_public", "metadata", "tlp"}),
    sorts={
        "name": IocCollection.name,
        "created": IocCollection.created_at,
        "updated": IocCollection.updated_at,
    },
    new=_new,
    apply=_apply,
)
"""IOC collections: names unique in any case; a new one is private, empty and its
creator's."""


def create_collection(
    session: Session, *, actor: Actor, values: Mapping[str, Any]
) -> IocCollection:
    """A new, empty collection owned by the caller; a name already taken is 409."""
    return knowledge.create(session, KIND, actor=actor, values=values)


def update_collection(
    session: Session,
    *,
    actor: Actor,
    collection_id: uuid.UUID,
    changes: Mapping[str, Any],
    see_all: bool,
) -> IocCollection:
    """Change the fields given; only the creator or an admin may."""
    row = _writable(session, collection_id, actor=actor, see_all=see_all)
    return knowledge.update(session, KIND, row, actor=actor, changes=changes)


def delete_collection(
    session: Session, *, actor: Actor, collection_id: uuid.UUID, see_all: bool
) -> None:
    """Delete a collection; its indicators stay. Only the creator or an admin may."""
    row = _writable(session, collection_id, actor=actor, see_all=see_all)
    knowledge.delete(session, KIND, row, actor=actor)


def page_collections(
    session: Session,
    *,
    user_id: uuid.UUID | None,
    see_all: bool,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "name",
    q: str | None = None,
    is_public: bool | None = None,
    mine: bool | None = None,
) -> PageResult[IocCollection]:
    """A page of the collections this user may see; ``q`` is part of the name, ``mine``
    keeps (or leaves out) the user's own."""
    statement = select(IocCollection).where(visible_to(user_id, see_all=see_all))
    if q is not None:
        statement = statement.where(links.name_matches(session, IocCollection.name, q))
    if is_public is not None:
        statement = statement.where(IocCollection.is_public.is_(is_public))
    if mine is True:
        statement = statement.where(IocCollection.created_by == user_id)
    elif mine is False:
        statement = statement.where(
            or_(IocCollection.created_by.is_(None), IocCollection.created_by != user_id)
        )
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)


def live_counts(session: Session, collection_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many indicators each collection holds now."""
    return links.count_by(session, CollectionIndicator.collection_id, collection_ids)


def _recount(session: Session, collection_id: uuid.UUID) -> int:
    held = (
        select(func.count())
        .select_from(CollectionIndicator)
        .where(CollectionIndicator.collection_id == collection_id)
        .scalar_subquery()
    )
    count = session.scalar(
        update(IocCollection)
        .where(IocCollection.id == collection_id)
        .values(indicator_count=held, updated_at=utcnow())
        .returning(IocCollection.indicator_count)
        .execution_options(synchronize_session=False)
    )
    return int(count or 0)


def _recounted(
    session: Session,
    row: IocCollection,
    *,
    actor: Actor,
    action: str,
    resolved: links.Resolved,
    changed: int,
    details: dict[str, Any],
) -> CollectionChange:
    """Recount a collection after a bulk change, audit the change (its ``details`` and the
    new count) and say what it did."""
    count = _recount(session, row.id)
    audit.record(
        session,
        actor=actor,
        action=f"{KIND.resource}.{action}",
        resource_type=KIND.resource,
        resource_id=row.id,
        details={**details, "indicator_count": count},
    )
    return CollectionChange(
        changed=changed,
        unchanged=len(resolved.ids) - changed,
        not_found=resolved.not_found,
        unreadable=resolved.unreadable,
        indicator_count=count,
    )


def add_indicators(
    session: Session,
    *,
    actor: Actor,
    collection_id: uuid.UUID,
    indicators: Sequence[str],
    notes: str | None = None,
    see_all: bool,
) -> CollectionChange:
    """Add indicators by id or value, in bulk; those already in it are left as they are."""
    row = _writable(session, collection_id, actor=actor, see_all=see_all, lock=True)
    resolved = links.resolve_indicators(session, indicators)
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    added = 0
    # In id order, so that two requests adding overlapping sets take their locks alike.
    for part in links.chunks(sorted(resolved.ids), 500):
        statement = (
            insert(CollectionIndicator)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "collection_id": row.id,
                        "indicator_id": indicator_id,
                        "added_at": now,
                        "added_by": actor.user_id,
                        "notes": notes,
                    }
                    for indicator_id in part
                ]
            )
            .on_conflict_do_nothing(index_elements=["collection_id", "indicator_id"])
            .returning(CollectionIndicator.id)
        )
        added += len(session.execute(statement).all())
    details = {
        "added": added,
        "unchanged": len(resolved.ids) - added,
        "not_found": len(resolved.not_found),
        "unreadable": len(resolved.unreadable),
    }
    return _recounted(
        session,
        row,
        actor=actor,
        action="add_indicators",
        resolved=resolved,
        changed=added,
        details=details,
    )


def remove_indicators(
    session: Session,
    *,
    actor: Actor,
    collection_id: uuid.UUID,
    indicators: Sequence[str],
    see_all: bool,
) -> CollectionChange:
    """Remove indicators by id or value, in bulk; those not in it are skipped."""
    row = _writable(session, collection_id, actor=actor, see_all=see_all, lock=True)
    resolved = links.resolve_indicators(session, indicators)
    removed = 0
    for part in links.chunks(sorted(resolved.ids)):
        result = session.execute(
            delete(CollectionIndicator)
            .where(
                CollectionIndicator.collection_id == row.id,
                CollectionIndicator.indicator_id.in_(part),
            )
            .returning(CollectionIndicator.id)
            .execution_options(synchronize_session=False)
        )
        removed += len(result.all())
    return _recounted(
        session,
        row,
        actor=actor,
        action="remove_indicators",
        resolved=resolved,
        changed=removed,
        details={"removed": removed},
    )


def page_members(
    session: Session,
    *,
    collection_id: uuid.UUID,
    user_id: uuid.UUID | None,
    see_all: bool,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[PageResult[CollectionIndicator], dict[uuid.UUID, ThreatIndicator]]:
    """A page of a collection's indicators, the latest added first."""
    row = get_collection(session, collection_id, user_id=user_id, see_all=see_all)
    result = paginate_sorted(
        session,
        select(CollectionIndicator).where(CollectionIndicator.collection_id == row.id),
        sort="-added",
        columns={"added": CollectionIndicator.added_at},
        tie=CollectionIndicator.id,
        limit=limit,
        cursor=cursor,
    )
    return result, links.indicators_by_id(session, (m.indicator_id for m in result.items))
