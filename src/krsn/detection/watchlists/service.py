"""Watchlists and their items: audited create, update and delete of the lists; items added
one by one, in bulk, from a file or from an IOC collection; expired items purged.

Every item value goes through :func:`krsn.indicators.normalise.normalise` (defanged input
is read) and is stored canonical, typed by its kind: addresses and CIDR ranges are ``ip``,
then ``domain``, ``url``, ``hash`` (md5, sha1, sha256, sha512) and ``email``. A list takes
only what its type is for:

- ``ip_blacklist``: IP addresses and CIDR ranges;
- ``domain_blacklist``: domains, and the URLs and e-mail addresses that narrow a block to one
  resource or one mailbox (a domain item already covers its subdomains, the URLs on them and
  the addresses at them, see :mod:`krsn.detection.watchlists.matching`);
- ``hash_whitelist``: file hashes;
- ``custom``: any of them.

A value that cannot be read, is not of the list's type or has already expired is refused
with the reason; in a batch it is counted and listed, and the rest of the batch goes in.
Re-adding a value already on the list sets its expiry to the one given (none: it never
expires) and its notes to those given (none: it keeps its own); the answer counts what was
added, updated, left unchanged and refused.

``item_count`` is recounted in SQL by every write to a list's items, in the same
transaction and after locking the list's row, so concurrent writers queue on it and each
count sees every item committed before it. The recount also stamps the list's
``updated_at``, which is what the matching index watches to notice changes.

Services never commit: the request, command or job that calls them owns the transaction.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Table, and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from krsn.db.pagination import PageResult, paginate_sorted
from krsn.db.types import utcnow
from krsn.detection.models import Watchlist, WatchlistItem, WatchlistItemType, WatchlistType
from krsn.detection.observations import WatchlistHit
from krsn.detection.watchlists import matching
from krsn.detection.watchlists.schemas import (
    MAX_REJECTIONS,
    CheckHit,
    ItemIn,
    ItemRead,
    ItemsChange,
    ItemsRemoved,
    Rejection,
    WatchlistCheck,
)
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.indicators.normalise import Indicator, Kind, normalise, require
from krsn.indicators.service import search_prefixes
from krsn.sharing import collections, knowledge, links
from krsn.sharing.models import CollectionIndicator, IocCollection

__all__ = [
    "ACCEPTS",
    "BATCH",
    "ITEM_TYPE",
    "KIND",
    "add_items",
    "check_value",
    "create_watchlist",
    "delete_watchlist",
    "find_watchlist",
    "get_watchlist",
    "import_collection",
    "import_lines",
    "item_read",
    "page_items",
    "page_watchlists",
    "purge_expired",
    "remove_item",
    "remove_values",
    "update_watchlist",
]

BATCH: Final = 2_000
"""Values written per statement by a bulk add or an import."""

ITEM_TYPE: Final[dict[Kind, WatchlistItemType]] = {
    Kind.IPV4: WatchlistItemType.IP,
    Kind.IPV6: WatchlistItemType.IP,
    Kind.CIDR: WatchlistItemType.IP,
    Kind.DOMAIN: WatchlistItemType.DOMAIN,
    Kind.URL: WatchlistItemType.URL,
    Kind.MD5: WatchlistItemType.HASH,
    Kind.SHA1: WatchlistItemType.HASH,
    Kind.SHA256: WatchlistItemType.HASH,
    Kind.SHA512: WatchlistItemType.HASH,
    Kind.EMAIL: WatchlistItemType.EMAIL,
}
"""The item type stored for each kind of value."""

ACCEPTS: Final[dict[WatchlistType, frozenset[WatchlistItemType]]] = {
    WatchlistType.IP_BLACKLIST: frozenset({WatchlistItemType.IP}),
    WatchlistType.DOMAIN_BLACKLIST: frozenset(
        {WatchlistItemType.DOMAIN, WatchlistItemType.URL, WatchlistItemType.EMAIL}
    ),
    WatchlistType.HASH_WHITELIST: frozenset({WatchlistItemType.HASH}),
    WatchlistType.CUSTOM: frozenset(WatchlistItemType),
}
"""The item types each list type takes."""

_TAKES: Final[dict[WatchlistType, str]] = {
    WatchlistType.IP_BLACKLIST: "IP addresses and CIDR ranges",
    WatchlistType.DOMAIN_BLACKLIST: "domains, URLs and e-mail addresses",
    WatchlistType.HASH_WHITELIST: "file hashes (md5, sha1, sha256, sha512)",
    WatchlistType.CUSTOM: "any value",
}
_TYPES: Final = ", ".join(t.value for t in WatchlistType)
_KIND_NAME: Final[dict[Kind, str]] = {
    Kind.IPV4: "an IPv4 address",
    Kind.IPV6: "an IPv6 address",
    Kind.CIDR: "a CIDR range",
    Kind.DOMAIN: "a domain",
    Kind.URL: "a URL",
    Kind.MD5: "an md5 hash",
    Kind.SHA1: "a sha1 hash",
    Kind.SHA256: "a sha256 hash",
    Kind.SHA512: "a sha512 hash",
    Kind.EMAIL: "an e-mail address",
}


# --- the lists ------------------------------------------------------------------------------


def _list_type(value: Any) -> WatchlistType:
    if isinstance(value, WatchlistType):
        return value
    try:
        return WatchlistType(value)
    except ValueError:
        raise Invalid("list_type", f"must be one of {_TYPES}") from None


def _misfits(session: Session, watchlist_id: uuid.UUID, list_type: WatchlistType) -> int:
    """How many items of the list a list of ``list_type`` would not take."""
    accepted = ACCEPTS[list_type]
    if len(accepted) == len(WatchlistItemType):
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(WatchlistItem)
            .where(
                WatchlistItem.watchlist_id == watchlist_id,
                WatchlistItem.item_type.not_in(sorted(accepted)),
            )
        )
        or 0
    )


def _new(actor: Actor) -> Watchlist:
    return Watchlist(
        id=uuid.uuid4(), name="", created_by=actor.user_id, is_active=True, item_count=0
    )


def _apply(session: Session, row: Watchlist, values: Mapping[str, Any]) -> None:
    if "description" in values:
        row.description = values["description"]
    if "is_active" in values:
        if values["is_active"] is None:
            raise Invalid("is_active", "must be true or false")
        row.is_active = bool(values["is_active"])
    if "list_type" in values:
        if values["list_type"] is None:
            raise Invalid("list_type", f"must be one of {_TYPES}")
        wanted = _list_type(values["list_type"])
        if wanted is not row.list_type and row.list_type is not None:
            misfits = _misfits(session, row.id, wanted)
            if misfits:
                raise Invalid(
                    "list_type",
                    f"{misfits} item(s) of this list are not {_TAKES[wanted]}, which is all "
                    f"{_a(wanted)} takes; remove them first, or create a new list",
                )
        row.list_type = wanted


KIND = knowledge.Kind(
    model=Watchlist,
    resource="watchlist",
    noun="watchlist",
    article="a",
    name="name",
    unnamed="a watchlist needs a name",
    fields=frozenset({"name", "description", "list_type", "is_active"}),
    sorts={
        "name": Watchlist.name,
        "created": Watchlist.created_at,
        "updated": Watchlist.updated_at,
    },
    new=_new,
    apply=_apply,
)
"""Watchlists: names unique in any case; a new one is active and empty."""


def get_watchlist(session: Session, watchlist_id: uuid.UUID) -> Watchlist:
    """The watchlist with this id; ``NotFound`` when there is none."""
    return knowledge.get(session, KIND, watchlist_id)


def find_watchlist(session: Session, key: str) -> Watchlist:
    """A watchlist by id or by name (any case); ``NotFound`` when there is none."""
    text = key.strip()
    try:
        return get_watchlist(session, uuid.UUID(text))
    except ValueError:
        pass
    row = knowledge.by_name(session, KIND, text)
    if row is None:
        raise NotFound(f"No watchlist named {text!r}; 'krsn watchlists list' shows them.")
    return row


def _locked(session: Session, watchlist_id: uuid.UUID) -> Watchlist:
    """The list, its row locked for the rest of the transaction: writers of its items queue
    here, so each recount sees the items the ones before it committed (PostgreSQL; SQLite
    has one writer at a time anyway)."""
    row = session.scalar(
        select(Watchlist)
        .where(Watchlist.id == watchlist_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"No watchlist {watchlist_id}.")
    return row


def create_watchlist(session: Session, *, actor: Actor, values: Mapping[str, Any]) -> Watchlist:
    """A new, empty list; a name already taken (in any case) is 409."""
    if values.get("list_type") is None:
        raise Invalid("list_type", f"a watchlist needs a type: one of {_TYPES}")
    return knowledge.create(session, KIND, actor=actor, values=values)


def update_watchlist(
    session: Session, *, actor: Actor, watchlist_id: uuid.UUID, changes: Mapping[str, Any]
) -> Watchlist:
    """Change the fields given, audited; a new type must fit every item of the list."""
    row = _locked(session, watchlist_id)
    return knowledge.update(session, KIND, row, actor=actor, changes=changes)


def delete_watchlist(session: Session, *, actor: Actor, watchlist_id: uuid.UUID) -> None:
    """Delete a list and its items, audited with its last values."""
    knowledge.delete(session, KIND, _locked(session, watchlist_id), actor=actor)


def page_watchlists(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "name",
    q: str | None = None,
    list_type: WatchlistType | None = None,
    is_active: bool | None = None,
) -> PageResult[Watchlist]:
    """A page of the lists; ``q`` is part of the name, in any case."""
    statement = select(Watchlist)
    if q is not None:
        statement = statement.where(links.name_matches(session, Watchlist.name, q))
    if list_type is not None:
        statement = statement.where(Watchlist.list_type == list_type)
    if is_active is not None:
        statement = statement.where(Watchlist.is_active.is_(is_active))
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)


# --- counting -------------------------------------------------------------------------------


def _recount(session: Session, row: Watchlist) -> int:
    """Set the list's ``item_count`` to its rows, stamping ``updated_at``; the new count."""
    held = (
        select(func.count())
        .select_from(WatchlistItem)
        .where(WatchlistItem.watchlist_id == row.id)
        .scalar_subquery()
    )
    result = session.execute(
        update(Watchlist)
        .where(Watchlist.id == row.id)
        .values(item_count=held, updated_at=utcnow())
        .returning(Watchlist.item_count, Watchlist.updated_at)
        .execution_options(synchronize_session=False)
    ).one()
    # The row in the session shows what was written, without a second write at flush.
    set_committed_value(row, "item_count", int(result[0]))
    set_committed_value(row, "updated_at", result[1])
    return int(result[0])


# --- adding items ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    raw: str
    notes: str | None
    expires_at: datetime | None
    line: int | None = None


@dataclass
class _Tally:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    read: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, value: str, reason: str, line: int | None = None) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS:
            self.rejections.append(Rejection(value=value[:300], reason=reason, line=line))

    def details(self, item_count: int) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "item_count": item_count,
        }

    def change(self, item_count: int) -> ItemsChange:
        return ItemsChange(
            added=self.added,
            updated=self.updated,
            unchanged=self.unchanged,
            rejected=self.rejected,
            # A file's rows refused before normalising come first; show them in line order.
            rejections=sorted(self.rejections, key=lambda r: r.line or 0),
            item_count=item_count,
        )


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _a(list_type: WatchlistType) -> str:
    return ("an " if list_type.value[0] in "aeiou" else "a ") + list_type.value


def _refusal(list_type: WatchlistType, indicator: Indicator) -> str | None:
    """Why a list of this type does not take this value, or ``None`` when it does."""
    if ITEM_TYPE[indicator.kind] in ACCEPTS[list_type]:
        return None
    return (
        f"{_a(list_type)} takes {_TAKES[list_type]}, not {_KIND_NAME[indicator.kind]} "
        f"({indicator.value[:80]}); use a custom list for mixed values"
    )


_COLUMNS: Final = (
    "id",
    "watchlist_id",
    "item_value",
    "item_type",
    "notes",
    "added_at",
    "added_by",
    "expires_at",
)
# A re-added value is rewritten only when its expiry or (given) notes differ; only rewritten
# and inserted rows come back, so the ids returned tell added from updated from unchanged.
_PG_UPSERT: Final = text(
    "INSERT INTO watchlist_items "
    "(id, watchlist_id, item_value, item_type, notes, added_at, added_by, expires_at) "
    "SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:watchlist_id AS uuid[]), "
    "CAST(:item_value AS varchar[]), CAST(:item_type AS varchar[]), CAST(:notes AS text[]), "
    "CAST(:added_at AS timestamptz[]), CAST(:added_by AS uuid[]), "
    "CAST(:expires_at AS timestamptz[])) "
    "ON CONFLICT (watchlist_id, item_value) DO UPDATE SET "
    "notes = coalesce(excluded.notes, watchlist_items.notes), "
    "expires_at = excluded.expires_at "
    "WHERE watchlist_items.expires_at IS DISTINCT FROM excluded.expires_at "
    "OR (excluded.notes IS NOT NULL AND watchlist_items.notes IS DISTINCT FROM excluded.notes) "
    "RETURNING id"
)


def _upsert_postgresql(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """One statement with one array per column: thousands of bound values would cost the
    driver more to place than the server to store."""
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    for values in rows:
        for name in _COLUMNS:
            columns[name].append(values[name])
    columns["item_type"] = [item_type.value for item_type in columns["item_type"]]
    return set(session.execute(_PG_UPSERT, columns).scalars())


def _upsert_sqlite(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """One multi-row statement of the batch (SQLAlchemy's executemany), compiled once."""
    table = cast(Table, WatchlistItem.__table__)
    plain = sqlite_insert(table)
    excluded = plain.excluded
    statement = (
        plain.on_conflict_do_update(
            index_elements=[table.c.watchlist_id, table.c.item_value],
            set_={
                "notes": func.coalesce(excluded.notes, table.c.notes),
                "expires_at": excluded.expires_at,
            },
            where=or_(
                table.c.expires_at.is_distinct_from(excluded.expires_at),
                and_(excluded.notes.is_not(None), table.c.notes.is_distinct_from(excluded.notes)),
            ),
        )
        .returning(table.c.id)
        .execution_options(insertmanyvalues_page_size=BATCH)
    )
    return set(session.execute(statement, rows).scalars())


def _write(
    session: Session,
    row: Watchlist,
    entries: Sequence[_Entry],
    tally: _Tally,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Normalise, check and upsert one batch of values in one statement."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in entries:
        tally.read += 1
        result = normalise(entry.raw)
        if not isinstance(result, Indicator):
            tally.reject(entry.raw, result.reason, entry.line)
            continue
        reason = _refusal(row.list_type, result)
        if reason is not None:
            tally.reject(entry.raw, reason, entry.line)
            continue
        expires_at = _as_utc(entry.expires_at)
        if expires_at is not None and expires_at <= now:
            tally.reject(
                entry.raw,
                f"already expired (expires_at {expires_at.isoformat()} is in the past); "
                "give a later time or none",
                entry.line,
            )
            continue
        if result.value in rows:
            tally.unchanged += 1  # the last of a value's repeats in a batch is the one written
        rows[result.value] = {
            "id": uuid.uuid4(),
            "watchlist_id": row.id,
            "item_value": result.value,
            "item_type": ITEM_TYPE[result.kind],
            "notes": entry.notes,
            "added_at": now,
            "added_by": actor.user_id,
            "expires_at": expires_at,
        }
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        written = _upsert_postgresql(session, list(rows.values()))
    else:
        written = _upsert_sqlite(session, list(rows.values()))
    _rescore_entities(session, [(v["item_type"], v["item_value"]) for v in rows.values()])
    new_ids = {values["id"] for values in rows.values()}
    added = len(written & new_ids)
    updated = len(written) - added
    tally.added += added
    tally.updated += updated
    tally.unchanged += len(rows) - added - updated


Progress = Callable[[int, int | None], None]
"""Told after each batch how many values were read so far, and of how many if known."""


def _typed(values: Iterable[str]) -> list[tuple[WatchlistItemType, str]]:
    """Stored item values with their item type."""
    return [
        (ITEM_TYPE[found.kind], found.value)
        for value in values
        if isinstance(found := normalise(value), Indicator)
    ]


def _rescore_entities(session: Session, items: Iterable[tuple[Any, str]]) -> None:
    """An investigation's entity with a listed value has a watchlist factor in its risk
    score: rescore those a change names (item type, canonical value)."""
    from krsn.osint.risk.service import rescore_listed

    rescore_listed(
        session,
        values=[
            (IndicatorType(WatchlistItemType(item_type).value), value) for item_type, value in items
        ],
    )


def _batched(entries: Iterable[_Entry]) -> Iterator[list[_Entry]]:
    batch: list[_Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _audit_items(
    session: Session, row: Watchlist, *, actor: Actor, action: str, details: dict[str, Any]
) -> None:
    """One audit row for a change to a list's items, however many it touched."""
    audit.record(
        session,
        actor=actor,
        action=f"{KIND.resource}.{action}",
        resource_type=KIND.resource,
        resource_id=row.id,
        details=details,
    )


def _add(
    session: Session,
    *,
    actor: Actor,
    watchlist_id: uuid.UUID,
    entries: Iterable[_Entry],
    action: str,
    details: dict[str, Any],
    total: int | None = None,
    on_progress: Progress | None = None,
    tally: _Tally | None = None,
) -> ItemsChange:
    row = _locked(session, watchlist_id)
    tally = _Tally() if tally is None else tally
    now = utcnow()
    for batch in _batched(entries):
        _write(session, row, batch, tally, actor=actor, now=now)
        if on_progress is not None:
            on_progress(tally.read, total)
    count = _recount(session, row)
    _audit_items(
        session, row, actor=actor, action=action, details={**details, **tally.details(count)}
    )
    return tally.change(count)


def add_items(
    session: Session,
    *,
    actor: Actor,
    watchlist_id: uuid.UUID,
    items: Sequence[ItemIn | str],
    notes: str | None = None,
    expires_at: datetime | None = None,
) -> ItemsChange:
    """Add values (plain, or each with its own notes and expiry; ``notes`` and
    ``expires_at`` stand for those that give none), audited as one batch."""
    entries = [
        _Entry(item, notes, expires_at)
        if isinstance(item, str)
        else _Entry(
            item.value,
            item.notes if item.notes is not None else notes,
            item.expires_at if "expires_at" in item.model_fields_set else expires_at,
        )
        for item in items
    ]
    return _add(
        session,
        actor=actor,
        watchlist_id=watchlist_id,
        entries=entries,
        action="add_items",
        details={"values": len(entries)},
    )


def _text_entries(
    lines: Iterable[str], notes: str | None, expires_at: datetime | None
) -> Iterator[_Entry]:
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if number == 1:
            text = text.lstrip("\ufeff")
        if not text or text.startswith("#"):
            continue
        # A comment may follow a value after blanks ("192.0.2.1  # C2"); a URL's fragment
        # has none before its '#'.
        for mark in (" #", "\t#"):
            at = text.find(mark)
            if at >= 0:
                text = text[:at].rstrip()
        yield _Entry(text, notes, expires_at, number)


def _csv_entries(
    lines: Iterable[str],
    column: str | None,
    notes: str | None,
    expires_at: datetime | None,
    reject: Callable[[str, str, int | None], None],
) -> Iterator[_Entry]:
    def unmarked(source: Iterable[str]) -> Iterator[str]:
        first = True
        for line in source:
            yield line.lstrip("\ufeff") if first else line
            first = False

    reader = csv.reader(unmarked(lines))
    header: list[str] | None = None
    index, name = 0, ""
    for row in _csv_rows(reader, reject):
        if header is None:
            if not any(cell.strip() for cell in row):
                continue
            header = [cell.strip() for cell in row]
            index = _column_index(header, column)
            name = header[index]
            continue
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if index >= len(row):
            reject(",".join(row), f"the row has no {name!r} column ({len(row)} cells)", line)
            continue
        value = row[index].strip()
        if not value:
            reject(",".join(row), f"the {name!r} cell is empty", line)
            continue
        yield _Entry(value, notes, expires_at, line)


def _csv_rows(reader: Any, reject: Callable[[str, str, int | None], None]) -> Iterator[list[str]]:
    """The rows of a CSV reader; a row the reader cannot parse is refused, not fatal."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reject("", f"not a CSV row: {exc}", reader.line_num)
            continue
        yield row


def _column_index(header: list[str], column: str | None) -> int:
    if column is None:
        return 0
    wanted = column.strip().lower()
    for index, name in enumerate(header):
        if name.lower() == wanted:
            return index
    named = ", ".join(repr(name) for name in header) or "no columns"
    raise Invalid("column", f"no column named {column!r}; the header has {named}")


def import_lines(
    session: Session,
    *,
    actor: Actor,
    watchlist_id: uuid.UUID,
    lines: Iterable[str],
    as_csv: bool = False,
    column: str | None = None,
    notes: str | None = None,
    expires_at: datetime | None = None,
    source: str | None = None,
    on_progress: Progress | None = None,
) -> ItemsChange:
    """Add the values of a file read line by line, in batches of :data:`BATCH`: plain text
    (one value a line; blank lines and ``#`` comments skipped) or CSV with a header (the
    value in ``column``, by name in any case, else the first). A bad line is refused with
    its number; the others go in. Audited as one batch naming ``source``."""
    tally = _Tally()
    entries = (
        _csv_entries(lines, column, notes, expires_at, tally.reject)
        if as_csv
        else _text_entries(lines, notes, expires_at)
    )
    return _add(
        session,
        actor=actor,
        watchlist_id=watchlist_id,
        entries=entries,
        action="import_items",
        details={"source": source or "upload", "format": "csv" if as_csv else "text"},
        on_progress=on_progress,
        tally=tally,
    )


def _collection(
    session: Session, key: uuid.UUID | str, *, actor: Actor, see_all: bool
) -> IocCollection:
    """An IOC collection the actor may see, by id or by name in any case."""
    collection_id = key if isinstance(key, uuid.UUID) else None
    if collection_id is None:
        try:
            collection_id = uuid.UUID(str(key).strip())
        except ValueError:
            found = session.scalar(
                select(IocCollection).where(
                    func.lower(IocCollection.name) == str(key).strip().lower(),
                    collections.visible_to(actor.user_id, see_all=see_all),
                )
            )
            if found is None:
                raise NotFound(f"No IOC collection named {key!r} that you may see.") from None
            return found
    return collections.get_collection(
        session, collection_id, user_id=actor.user_id, see_all=see_all
    )


def import_collection(
    session: Session,
    *,
    actor: Actor,
    watchlist_id: uuid.UUID,
    collection: uuid.UUID | str,
    see_all: bool,
    notes: str | None = None,
    expires_at: datetime | None = None,
    on_progress: Progress | None = None,
) -> ItemsChange:
    """Add the indicators linked to an IOC collection the actor may see (by id, or by name
    in any case); those the list's type does not take are refused and counted."""
    found = _collection(session, collection, actor=actor, see_all=see_all)
    values = list(
        session.scalars(
            select(ThreatIndicator.indicator_value)
            .join(CollectionIndicator, CollectionIndicator.indicator_id == ThreatIndicator.id)
            .where(CollectionIndicator.collection_id == found.id)
            .order_by(ThreatIndicator.indicator_value)
        )
    )
    return _add(
        session,
        actor=actor,
        watchlist_id=watchlist_id,
        entries=(_Entry(value, notes, expires_at) for value in values),
        action="import_items",
        details={"source": f"ioc_collection:{found.id}", "collection": found.name},
        total=len(values),
        on_progress=on_progress,
    )


# --- removing items -------------------------------------------------------------------------


def remove_values(
    session: Session, *, actor: Actor, watchlist_id: uuid.UUID, values: Sequence[str]
) -> ItemsRemoved:
    """Remove values (read like added ones, so defanged input finds its item), audited as
    one batch; those the list does not hold are named."""
    row = _locked(session, watchlist_id)
    rejections: list[Rejection] = []
    unreadable = 0
    wanted: dict[str, None] = {}
    for raw in values:
        result = normalise(raw)
        if isinstance(result, Indicator):
            wanted[result.value] = None
            continue
        unreadable += 1
        if len(rejections) < MAX_REJECTIONS:
            rejections.append(Rejection(value=raw[:300], reason=result.reason))
    removed: set[str] = set()
    canonical = list(wanted)
    for start in range(0, len(canonical), BATCH):
        part = canonical[start : start + BATCH]
        removed.update(
            session.execute(
                delete(WatchlistItem)
                .where(WatchlistItem.watchlist_id == row.id, WatchlistItem.item_value.in_(part))
                .returning(WatchlistItem.item_value)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
    _rescore_entities(session, _typed(removed))
    count = _recount(session, row)
    not_found = [value for value in canonical if value not in removed]
    _audit_items(
        session,
        row,
        actor=actor,
        action="remove_items",
        details={
            "removed": len(removed),
            "not_found": len(not_found),
            "rejected": unreadable,
            "item_count": count,
        },
    )
    return ItemsRemoved(
        removed=len(removed),
        not_found=not_found[:MAX_REJECTIONS],
        rejections=rejections,
        item_count=count,
    )


def remove_item(
    session: Session, *, actor: Actor, watchlist_id: uuid.UUID, item_id: uuid.UUID
) -> None:
    """Remove one item by id, audited."""
    row = _locked(session, watchlist_id)
    value = session.scalar(
        delete(WatchlistItem)
        .where(WatchlistItem.id == item_id, WatchlistItem.watchlist_id == row.id)
        .returning(WatchlistItem.item_value)
        .execution_options(synchronize_session=False)
    )
    if value is None:
        raise NotFound(f"No item {item_id} in watchlist {row.id}.")
    _rescore_entities(session, _typed([value]))
    count = _recount(session, row)
    _audit_items(
        session,
        row,
        actor=actor,
        action="remove_items",
        details={"removed": 1, "item_id": item_id, "value": value, "item_count": count},
    )


def purge_expired(session: Session, *, now: datetime, actor: Actor | None = None) -> int:
    """Delete the items whose expiry has passed, recount their lists and audit each list
    once; how many were deleted."""
    now = _as_utc(now) or utcnow()
    actor = actor or Actor.system()
    expired = WatchlistItem.expires_at <= now
    list_ids = sorted(
        session.scalars(select(WatchlistItem.watchlist_id).where(expired).distinct()).all()
    )
    total = 0
    # One list at a time, each locked first, in id order so concurrent purges queue alike.
    for list_id in list_ids:
        try:
            row = _locked(session, list_id)
        except NotFound:  # deleted meanwhile, with its items
            continue
        purged = len(
            session.execute(
                delete(WatchlistItem)
                .where(WatchlistItem.watchlist_id == row.id, expired)
                .returning(WatchlistItem.id)
                .execution_options(synchronize_session=False)
            ).all()
        )
        count = _recount(session, row)
        total += purged
        _audit_items(
            session,
            row,
            actor=actor,
            action="purge_expired",
            details={"purged": purged, "item_count": count, "expired_before": now},
        )
    return total


# --- reading items --------------------------------------------------------------------------


def page_items(
    session: Session,
    *,
    watchlist_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "value",
    q: str | None = None,
    include_expired: bool = True,
    now: datetime | None = None,
) -> PageResult[WatchlistItem]:
    """A page of a list's items; ``q`` is the start of the value, defanged or not."""
    row = get_watchlist(session, watchlist_id)
    statement = select(WatchlistItem).where(WatchlistItem.watchlist_id == row.id)
    if q is not None:
        prefixes = search_prefixes(q)
        if not prefixes:
            raise Invalid("q", "must not be blank")
        statement = statement.where(
            or_(*(WatchlistItem.item_value.startswith(p, autoescape=True) for p in prefixes))
        )
    if not include_expired:
        moment = _as_utc(now) or utcnow()
        statement = statement.where(
            or_(WatchlistItem.expires_at.is_(None), WatchlistItem.expires_at > moment)
        )
    return paginate_sorted(
        session,
        statement,
        sort=sort,
        columns={"value": WatchlistItem.item_value, "added": WatchlistItem.added_at},
        tie=WatchlistItem.id,
        limit=limit,
        cursor=cursor,
    )


def item_read(item: WatchlistItem, *, now: datetime) -> ItemRead:
    """An item as the API shows it, ``expired`` judged at ``now``."""
    shown = ItemRead.model_validate(item)
    expires = _as_utc(item.expires_at)
    shown.expired = expires is not None and expires <= now
    return shown


def check_value(session: Session, *, value: str, now: datetime) -> WatchlistCheck:
    """Which active lists hold or cover a value, by the matching rules, with the item."""
    indicator = require(value, field="value")
    hits: list[WatchlistHit] = matching.hits_of(
        session, kind=indicator.kind.value, canonical=indicator.value, now=now
    )
    rows: dict[uuid.UUID, WatchlistItem] = {}
    if hits:
        wanted = [hit.item_id for hit in hits]
        rows = {
            item.id: item
            for item in session.scalars(select(WatchlistItem).where(WatchlistItem.id.in_(wanted)))
        }
    moment = _as_utc(now) or utcnow()
    return WatchlistCheck(
        value=value,
        canonical=indicator.value,
        kind=indicator.kind.value,
        hits=[
            CheckHit(
                watchlist_id=hit.watchlist_id,
                watchlist_name=hit.watchlist_name,
                list_type=hit.list_type,
                effect="suppress" if hit.suppresses else "alert",
                item=item_read(rows[hit.item_id], now=moment),
            )
            for hit in hits
            if hit.item_id in rows
        ],
    )
