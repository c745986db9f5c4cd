"""Collections: audited create, update and delete; the run's state machine; items.

A collection's status moves pending → running → completed / failed / cancelled, and a
finished one may run again. Every move into or out of ``running`` is one conditional
UPDATE (``... WHERE status = 'running'`` or ``<> 'running'``), so two processes sharing the
database (the server's background runner, a ``krsn collections run`` in a shell) can never
both start one run, and a cancel from one is never overwritten by the other's end: the
runner ends a run only while it is still ``running``.

``updated_at`` is the run's heartbeat: the runner stamps it at least every
:data:`HEARTBEAT_SECONDS`, so a ``running`` row whose time stopped moving was left by a
process that died, and :func:`fail_abandoned` marks it failed.

Services never commit: the request, command or job that calls them owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, cast

from pydantic import BaseModel
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate_sorted
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import AuditSeverity
from krsn.osint.collections.schemas import MAX_EVERY_MINUTES, CollectorInfo
from krsn.osint.collectors.base import Collector
from krsn.osint.models import Collection, CollectionItem, CollectionStatus, CollectorType, Source
from krsn.sharing import knowledge

__all__ = [
    "HEARTBEAT_SECONDS",
    "RESOURCE",
    "add_collected",
    "claim_run",
    "collector_for",
    "collector_name",
    "collectors",
    "create_collection",
    "delete_collection",
    "due_collections",
    "fail_abandoned",
    "find_collection",
    "finish_run",
    "get_collection",
    "heartbeat",
    "page_collections",
    "page_items",
    "request_cancel",
    "set_progress",
    "update_collection",
    "validate_config",
]

RESOURCE: Final = "collection"
"""The audit log's resource type; actions are ``collection.create`` and so on."""
HEARTBEAT_SECONDS: Final = 15.0
"""How often a run stamps ``updated_at`` at the least."""
_TYPES: Final = ", ".join(t.value for t in CollectorType)
_FIELDS: Final = frozenset(
    {"name", "description", "collector_type", "collector", "config", "schedule", "source_id"}
)
_RUNNING: Final = CollectionStatus.RUNNING


# --- collectors -----------------------------------------------------------------------------


def collector_name(row: Collection) -> str:
    """The registered name of the collector that runs ``row``: its own, or its category's
    built-in when it names none."""
    return row.collector or row.collector_type.value


def collector_for(collector: Collection | CollectorType | str) -> Collector:
    """The installed collector of a collection, or registered under a name (a category: its
    built-in); ``Invalid`` naming the installed ones."""
    from krsn.osint.collectors import registry

    name = collector_name(collector) if isinstance(collector, Collection) else collector
    return registry.get(name)


def collectors() -> list[CollectorInfo]:
    """Every installed collector with its description and its Config's JSON schema."""
    from krsn.osint.collectors import registry

    return [CollectorInfo.model_validate(entry) for entry in registry.describe()]


def validate_config(collector: CollectorType | str, config: Mapping[str, Any]) -> BaseModel:
    """``config`` checked by the ``Config`` model of the collector registered as
    ``collector`` (a category: its built-in); ``Invalid`` naming the field."""
    from krsn.osint.collectors import registry

    return registry.validate_config(collector, dict(config))


def _stored_config(collector: str, config: Mapping[str, Any]) -> dict[str, Any]:
    # The fields given, as the model read them; defaults stay out so a collector's later
    # defaults reach collections that never chose otherwise.
    checked = validate_config(collector, config)
    return checked.model_dump(mode="json", exclude_unset=True)


def _collector(value: Any, kind: CollectorType | None) -> tuple[CollectorType, str | None]:
    """The category and the stored ``collector`` for a collector name given (or not).

    A named collector must serve ``kind`` when one is given, and gives its category when
    not. Naming a category's built-in is the same as naming none: stored as null.
    """
    from krsn.osint.collectors import registry

    name = value.strip() if isinstance(value, str) else value
    if name is None or name == "":
        if kind is None:
            raise Invalid("collector_type", f"give a collector type ({_TYPES}) or a collector")
        return kind, None
    if not isinstance(name, str):
        raise Invalid("collector", "must be the name of an installed collector")
    served = registry.category(name, field="collector")
    if kind is not None and served != kind:
        raise Invalid(
            "collector",
            f"{name!r} is a {served.value} collector, not {kind.value}; "
            "'krsn collections types' lists each one's category",
        )
    return served, None if name == served.value else name


def _kind(value: Any) -> CollectorType | None:
    if value is None:
        return None
    try:
        return CollectorType(value)
    except ValueError:
        raise Invalid("collector_type", f"must be one of {_TYPES}") from None


def _schedule(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump()
    minutes = value.get("every_minutes") if isinstance(value, Mapping) else None
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 1 <= minutes <= MAX_EVERY_MINUTES
        or set(value) != {"every_minutes"}
    ):
        raise Invalid(
            "schedule",
            f'must be {{"every_minutes": N}} with N from 1 to {MAX_EVERY_MINUTES}, or null',
        )
    return {"every_minutes": minutes}


# --- the collections ------------------------------------------------------------------------


def get_collection(session: Session, collection_id: uuid.UUID) -> Collection:
    """The collection with this id; ``NotFound`` when there is none."""
    row = session.get(Collection, collection_id)
    if row is None:
        raise NotFound(f"No collection {collection_id}.")
    return row


def find_collection(session: Session, key: str) -> Collection:
    """A collection by id, or by a name only one collection has (any case)."""
    text = key.strip()
    try:
        return get_collection(session, uuid.UUID(text))
    except ValueError:
        pass
    ids = list(session.scalars(select(Collection.id).where(Collection.name == text).limit(2)))
    if not ids:
        ids = list(
            session.scalars(
                select(Collection.id).where(func.lower(Collection.name) == text.lower()).limit(2)
            )
        )
    if not ids:
        raise NotFound(f"No collection named {text!r}; 'krsn collections list' shows them.")
    if len(ids) > 1:
        raise Conflict(
            f"Several collections are named {text!r}; give the id ('krsn collections list')."
        )
    return get_collection(session, ids[0])


def _source_id(session: Session, value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    source_id = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if session.get(Source, source_id) is None:
        raise Invalid("source_id", f"no source {source_id}; 'GET /collections/sources' lists them")
    return source_id


def _unknown(values: Mapping[str, Any]) -> None:
    unknown = set(values) - _FIELDS
    if unknown:
        raise Invalid(sorted(unknown)[0], "not a field of a collection")


def create_collection(
    session: Session, *, actor: Actor, owner_id: uuid.UUID, values: Mapping[str, Any]
) -> Collection:
    """A new, pending collection owned by ``owner_id``, its config checked by the collector.

    ``collector`` names an installed collector of category ``collector_type``; either may be
    left out: without ``collector`` the category's built-in runs, without ``collector_type``
    the named collector's category is taken.
    """
    _unknown(values)
    name = (values.get("name") or "").strip()
    if not name:
        raise Invalid("name", "a collection needs a name")
    kind, collector = _collector(values.get("collector"), _kind(values.get("collector_type")))
    row = Collection(
        id=uuid.uuid4(),
        user_id=owner_id,
        name=name,
        description=values.get("description"),
        collector_type=kind,
        collector=collector,
        config=_stored_config(collector or kind.value, values.get("config") or {}),
        schedule=_schedule(values.get("schedule")),
        source_id=_source_id(session, values.get("source_id")),
        status=CollectionStatus.PENDING,
        progress=Decimal("0.00"),
        items_collected=0,
    )
    audit.created(session, row, actor=actor, resource_type=RESOURCE)
    return row


def update_collection(
    session: Session, *, actor: Actor, collection_id: uuid.UUID, changes: Mapping[str, Any]
) -> Collection:
    """Change the fields given, audited; config, collector and source wait until a run ends.

    ``collector`` may change to another collector of the same category (null: its built-in);
    the config (the new one, or else the current one) is checked by that collector.
    """
    _unknown(changes)
    if "collector_type" in changes:
        raise Invalid("collector_type", "cannot change; create a new collection instead")
    row = get_collection(session, collection_id)
    if row.status == _RUNNING and {"config", "source_id", "collector"} & set(changes):
        raise Conflict(
            f"Collection {row.name!r} is running; change its config, collector or source when "
            "it ends (or cancel it first)."
        )
    before = audit.snapshot(row)
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise Invalid("name", "a collection needs a name")
        row.name = name
    if "description" in changes:
        row.description = changes["description"]
    if "collector" in changes:
        _, row.collector = _collector(changes["collector"], row.collector_type)
        if "config" not in changes:
            # The kept config must suit the new collector too.
            validate_config(collector_name(row), row.config or {})
    if "config" in changes:
        row.config = _stored_config(collector_name(row), changes["config"] or {})
    if "schedule" in changes:
        row.schedule = _schedule(changes["schedule"])
    if "source_id" in changes:
        row.source_id = _source_id(session, changes["source_id"])
    knowledge.changed(session, row, actor=actor, resource_type=RESOURCE, before=before)
    return row


def delete_collection(session: Session, *, actor: Actor, collection_id: uuid.UUID) -> None:
    """Delete a collection with its items and raw documents, audited; not while running."""
    row = get_collection(session, collection_id)
    if row.status == _RUNNING:
        raise Conflict(f"Collection {row.name!r} is running; cancel it first.")
    items = session.scalar(
        select(func.count())
        .select_from(CollectionItem)
        .where(CollectionItem.collection_id == row.id)
    )
    knowledge.deleted(
        session, row, actor=actor, resource_type=RESOURCE, details={"items": int(items or 0)}
    )


def page_collections(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "-created",
    status: CollectionStatus | str | None = None,
    collector_type: CollectorType | str | None = None,
    collector: str | None = None,
    user_id: uuid.UUID | None = None,
    q: str | None = None,
) -> PageResult[Collection]:
    """A page of collections, filtered by status, type, collector, owner and part of the
    name."""
    statement = select(Collection)
    if status is not None:
        statement = statement.where(Collection.status == CollectionStatus(status))
    if collector_type is not None:
        statement = statement.where(Collection.collector_type == CollectorType(collector_type))
    if collector is not None:
        name = collector.strip()
        try:
            # A category's name is its built-in: the collections that name no collector.
            statement = statement.where(
                Collection.collector_type == CollectorType(name), Collection.collector.is_(None)
            )
        except ValueError:
            statement = statement.where(Collection.collector == name)
    if user_id is not None:
        statement = statement.where(Collection.user_id == user_id)
    if q:
        statement = statement.where(
            func.lower(Collection.name).contains(q.strip().lower(), autoescape=True)
        )
    return paginate_sorted(
        session,
        statement,
        sort=sort,
        columns={
            "name": Collection.name,
            "created": Collection.created_at,
            "started": Collection.started_at,
        },
        tie=Collection.id,
        limit=limit,
        cursor=cursor,
    )


def page_items(
    session: Session,
    *,
    collection_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "-collected",
    item_type: str | None = None,
) -> PageResult[CollectionItem]:
    """A page of a collection's items, newest first unless ``sort`` says otherwise."""
    get_collection(session, collection_id)
    statement = select(CollectionItem).where(CollectionItem.collection_id == collection_id)
    if item_type is not None:
        statement = statement.where(CollectionItem.item_type == item_type)
    return paginate_sorted(
        session,
        statement,
        sort=sort,
        columns={"collected": CollectionItem.collected_at},
        tie=CollectionItem.id,
        limit=limit,
        cursor=cursor,
    )


# --- the run's state machine ----------------------------------------------------------------


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def claim_run(
    session: Session, *, actor: Actor, collection_id: uuid.UUID, now: datetime | None = None
) -> Collection:
    """Move a collection into ``running`` for a new run, audited; ``Conflict`` when it
    already runs. Commit at once, before the run, so other processes see the claim."""
    row = get_collection(session, collection_id)
    now = now or utcnow()
    claimed = session.execute(
        update(Collection)
        .where(Collection.id == row.id, Collection.status.is_distinct_from(_RUNNING))
        .values(
            status=_RUNNING,
            progress=Decimal("0.00"),
            items_collected=0,
            error_message=None,
            started_at=now,
            completed_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(claimed) != 1:
        raise Conflict(
            f"Collection {row.name!r} is already running; wait for it or cancel it first."
        )
    session.refresh(row)
    audit.record(
        session,
        actor=actor,
        action=f"{RESOURCE}.run",
        resource_type=RESOURCE,
        resource_id=row.id,
        details={
            "collector_type": row.collector_type.value,
            "collector": collector_name(row),
            "started_at": now,
        },
    )
    return row


def request_cancel(
    session: Session, *, actor: Actor, collection_id: uuid.UUID, now: datetime | None = None
) -> Collection:
    """Mark a running collection cancelled, audited; its runner (in this process or
    another) stops at its next check. ``Conflict`` when it is not running."""
    row = get_collection(session, collection_id)
    now = now or utcnow()
    cancelled = session.execute(
        update(Collection)
        .where(Collection.id == row.id, Collection.status == _RUNNING)
        .values(status=CollectionStatus.CANCELLED, completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(cancelled) != 1:
        state = row.status.value if row.status else "pending"
        raise Conflict(f"Collection {row.name!r} is not running (it is {state}).")
    session.refresh(row)
    audit.record(
        session,
        actor=actor,
        action=f"{RESOURCE}.cancel",
        resource_type=RESOURCE,
        resource_id=row.id,
        details={"progress": row.progress, "items_collected": row.items_collected},
    )
    return row


def _while_running(session: Session, collection_id: uuid.UUID, **values: Any) -> bool:
    done = session.execute(
        update(Collection)
        .where(Collection.id == collection_id, Collection.status == _RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(done) == 1


def set_progress(session: Session, *, collection_id: uuid.UUID, progress: float) -> bool:
    """Record a running collection's progress (0-100); False once it no longer runs."""
    shown = Decimal(str(round(min(max(progress, 0.0), 100.0), 2)))
    return _while_running(session, collection_id, progress=shown, updated_at=utcnow())


def heartbeat(session: Session, *, collection_id: uuid.UUID) -> bool:
    """Stamp a running collection's ``updated_at``; False once it no longer runs."""
    return _while_running(session, collection_id, updated_at=utcnow())


def add_collected(session: Session, *, collection_id: uuid.UUID, items: int) -> bool:
    """Count new items of the current run; False once it no longer runs (the items stay)."""
    return _while_running(
        session,
        collection_id,
        items_collected=func.coalesce(Collection.items_collected, 0) + items,
        updated_at=utcnow(),
    )


def finish_run(
    session: Session,
    *,
    actor: Actor,
    collection_id: uuid.UUID,
    status: CollectionStatus,
    error_message: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """End a run as completed, failed or cancelled, audited; False (and nothing written)
    when someone ended it first: a cancel from elsewhere is never overwritten."""
    now = now or utcnow()
    values: dict[str, Any] = {
        "status": status,
        "completed_at": now,
        "updated_at": now,
        "error_message": error_message,
    }
    if status == CollectionStatus.COMPLETED:
        values["progress"] = Decimal("100.00")
    if not _while_running(session, collection_id, **values):
        return False
    audit.record(
        session,
        actor=actor,
        action=f"{RESOURCE}.{status.value}",
        resource_type=RESOURCE,
        resource_id=collection_id,
        details={**(details or {}), "error_message": error_message},
        severity=AuditSeverity.WARNING if status == CollectionStatus.FAILED else AuditSeverity.INFO,
    )
    return True


def is_running(session: Session, *, collection_id: uuid.UUID) -> bool:
    """Whether the collection is still ``running`` (a cancel from elsewhere ends that)."""
    status = session.scalar(select(Collection.status).where(Collection.id == collection_id))
    return status == _RUNNING


def due_collections(session: Session, *, now: datetime | None = None) -> list[uuid.UUID]:
    """Scheduled collections not running whose period since their last start has passed."""
    now = now or utcnow()
    due = []
    rows = session.execute(
        select(Collection.id, Collection.schedule, Collection.started_at).where(
            Collection.schedule.is_not(None), Collection.status.is_distinct_from(_RUNNING)
        )
    )
    for collection_id, schedule, started_at in rows:
        minutes = (schedule or {}).get("every_minutes") if isinstance(schedule, dict) else None
        if not isinstance(minutes, int) or minutes < 1:
            continue
        if started_at is None or started_at + timedelta(minutes=minutes) <= now:
            due.append(collection_id)
    return due


def fail_abandoned(
    session: Session, *, stale_after: float, now: datetime | None = None
) -> list[uuid.UUID]:
    """Mark failed the runs whose heartbeat stopped over ``stale_after`` seconds ago: the
    process running them died. Audited by the system; their ids."""
    now = now or utcnow()
    stale = list(
        session.scalars(
            select(Collection.id).where(
                Collection.status == _RUNNING,
                Collection.updated_at < now - timedelta(seconds=stale_after),
            )
        )
    )
    for collection_id in stale:
        finish_run(
            session,
            actor=Actor.system(),
            collection_id=collection_id,
            status=CollectionStatus.FAILED,
            error_message="The process running this collection stopped before it ended "
            "(a crash or a restart); run it again.",
            now=now,
        )
    return stale
