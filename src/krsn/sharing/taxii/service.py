"""The TAXII 2.1 server's operations: which collections a caller sees, their objects page by
page, and envelopes of objects posted into them.

**Collections.** One per IOC collection the caller may read (public ones, the caller's own
private ones; admins all of them) plus "All indicators" (:data:`ALL_INDICATORS_ID`), every
active indicator. A collection's objects are its indicators as STIX ``indicator`` objects,
made by the STIX export's own mapping (:func:`krsn.sharing.stix.export.indicator_document`)
with the ids ``krsn stix export`` writes. Every collection also serves, ahead of its
indicators, the few fixed objects they refer to (:data:`FIXED`: our identity and the TLP
marking definitions), so that each reference resolves within the collection. Relationships
are not served yet.

**Who reads and writes.** Reading needs the read permission. Writing (``POST objects``,
``DELETE`` an object) needs write access to intelligence (analyst or admin, a key with the
``write`` scope) and, for an IOC collection, to be its creator or an admin, as the
collections API has it.

**TLP.** An object's TLP is the strictest of its own (``metadata.tlp``) and its collection's:

- TLP:RED never leaves over TAXII, for anyone: red is for named recipients, not a feed;
- TLP:AMBER+STRICT goes only to admins and to members of the organization of the
  collection's creator (in "All indicators", which has no creator, to admins only);
- CLEAR, GREEN, AMBER and unmarked objects go to whoever may read the collection.

A collection whose own TLP a caller may not receive is not listed for that caller at all.

**Order and paging.** A collection pages in the order its objects were added: an IOC
collection by ``collection_indicators.added_at`` (when the indicator joined it), "All
indicators" by ``threat_indicators.updated_at`` (when it last changed, so a changed
indicator comes again with its new version), ties broken by the indicator id. ``next`` is an
opaque keyset cursor on that pair: each page is one indexed range read from the database,
however deep, and only the page is ever held in memory. The fixed objects come first, with
fixed added dates older than any row's, so they hold their place and ``added_after`` skips
them once read.

**Versions.** We keep one version of each object, the current one: ``match[version]`` of
``last``, ``first`` or ``all`` all give it, a timestamp gives it when it equals its
``modified`` (a marking definition's version is its ``created``). ``match[spec_version]``
knows ``2.1`` only; ``match[type]`` picks among ``indicator``, ``identity`` and
``marking-definition``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Forbidden, Invalid, NotFound
from krsn.feeds.pipeline import Suppressor
from krsn.feeds.sources import ensure_source
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import Role, User
from krsn.indicators.models import ThreatIndicator
from krsn.indicators.store import StorageForm
from krsn.sharing import collections as ioc_collections
from krsn.sharing.models import CollectionIndicator, IocCollection
from krsn.sharing.stix.export import (
    IDENTITY,
    TLP_MARKINGS,
    IndicatorTraits,
    indicator_document,
    indicator_traits,
    kind_of,
    own_stix_id,
    stix_ids_for,
    timestamp,
)
from krsn.sharing.stix.models import StixObject
from krsn.sharing.stix.service import import_bundle
from krsn.sharing.taxii.models import TaxiiStatus
from krsn.sharing.tlp import Channel, Recipient, indicator_tlp, may_release, strictest, tlp_level

log = logging.getLogger(__name__)

ALL_INDICATORS_ID: Final = "3f1b6b8e-3c39-5d5f-9a39-0c8f7a3c2f11"
"""The fixed id of the "All indicators" collection."""
API_ROOT: Final = "krsn"
"""The one API root's name: ``/taxii2/krsn/``."""
TAXII_MEDIA_TYPE: Final = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE: Final = "application/stix+json;version=2.1"
DEFAULT_PAGE: Final = 1000
MAX_PAGE: Final = 10_000
"""The most objects one page holds; a larger ``limit`` is cut to it (``more`` says so)."""
SOURCE_PREFIX: Final = "TAXII"

_INDICATORS: Final = ThreatIndicator.__tablename__
_LINKS: Final = CollectionIndicator.__tablename__
_KNOWN_VERSIONS = frozenset({"last", "first", "all"})
_ID_SCAN_BATCH = 5000


# --- Who asks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The person behind a TAXII request, as far as TAXII decides anything."""

    user_id: uuid.UUID | None
    role: Role
    can_write_intel: bool
    organization_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, via="taxii")


def caller_of(
    session: Session, *, user_id: uuid.UUID | None, role: Role, can_write_intel: bool
) -> Caller:
    """The caller with its organization, which the AMBER+STRICT rule needs."""
    organization = (
        session.scalar(sa.select(User.organization_id).where(User.id == user_id))
        if user_id is not None
        else None
    )
    return Caller(
        user_id=user_id, role=role, can_write_intel=can_write_intel, organization_id=organization
    )


# --- Collections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """A TAXII collection as one caller sees it."""

    id: str
    title: str
    description: str | None
    can_read: bool
    can_write: bool
    tlp: str | None = None
    ioc_collection_id: uuid.UUID | None = None
    """The IOC collection behind it; None for "All indicators"."""
    owner_organization: uuid.UUID | None = None

    @property
    def is_all(self) -> bool:
        return self.ioc_collection_id is None


def may_receive(caller: Caller, level: str | None, collection: Collection) -> bool:
    """Whether an object of this (already strictest) TLP may go to this caller: the one rule
    of every channel (:func:`krsn.sharing.tlp.may_release`)."""
    return may_release(
        level,
        recipient=Recipient(is_admin=caller.is_admin, organization_id=caller.organization_id),
        owner_organization_id=collection.owner_organization,
        channel=Channel.TAXII,
    )


def _all_indicators(caller: Caller) -> Collection:
    return Collection(
        id=ALL_INDICATORS_ID,
        title="All indicators",
        description="Every active indicator of the platform, in the order they last changed.",
        can_read=True,
        can_write=caller.can_write_intel,
    )


def _of_row(caller: Caller, row: IocCollection, owner_organization: uuid.UUID | None) -> Collection:
    metadata = row.metadata_ if isinstance(row.metadata_, dict) else {}
    owner = caller.is_admin or (caller.user_id is not None and row.created_by == caller.user_id)
    return Collection(
        id=str(row.id),
        title=row.name,
        description=row.description,
        can_read=True,
        can_write=caller.can_write_intel and owner,
        tlp=tlp_level(metadata.get("tlp")),
        ioc_collection_id=row.id,
        owner_organization=owner_organization,
    )


def _rows_statement(caller: Caller) -> Any:
    return (
        sa.select(IocCollection, User.organization_id)
        .outerjoin(User, User.id == IocCollection.created_by)
        .where(ioc_collections.visible_to(caller.user_id, see_all=caller.is_admin))
    )


def list_collections(session: Session, *, caller: Caller) -> list[Collection]:
    """The collections this caller may read: "All indicators" first, then by title."""
    found = [_all_indicators(caller)]
    for row, organization in session.execute(_rows_statement(caller).order_by(IocCollection.name)):
        collection = _of_row(caller, row, organization)
        if may_receive(caller, collection.tlp, collection):
            found.append(collection)
    return found


def get_collection(session: Session, *, caller: Caller, collection_id: str) -> Collection:
    """One collection this caller may read; NotFound for any other, as if it did not exist."""
    if collection_id == ALL_INDICATORS_ID:
        return _all_indicators(caller)
    try:
        wanted = uuid.UUID(collection_id)
    except ValueError:
        raise NotFound(f"No collection {collection_id!r}.") from None
    found = session.execute(_rows_statement(caller).where(IocCollection.id == wanted)).first()
    if found is not None:
        collection = _of_row(caller, found[0], found[1])
        if may_receive(caller, collection.tlp, collection):
            return collection
    raise NotFound(f"No collection {collection_id!r}.")


# --- Filters and the cursor ------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the added date and indicator id of its last object."""

    added: datetime
    indicator_id: uuid.UUID

    def encode(self) -> str:
        text = f"{self.added.astimezone(UTC).isoformat()}|{self.indicator_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            added, _, row_id = text.partition("|")
            moment = datetime.fromisoformat(added)
            if moment.tzinfo is None:
                raise ValueError(added)
            return cls(moment.astimezone(UTC), uuid.UUID(row_id))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise Invalid("next", "not a cursor this server gave; start again without it") from None


@dataclass(frozen=True)
class Filters:
    """The URL filters of a TAXII request, read and checked."""

    added_after: datetime | None = None
    ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    versions: frozenset[str] | None = None
    spec_versions: frozenset[str] | None = None
    limit: int = DEFAULT_PAGE
    cursor: Cursor | None = None

    def wants_version(self, modified: str) -> bool:
        if self.versions is None or self.versions & _KNOWN_VERSIONS:
            return True
        return modified in self.versions


def parse_time(value: str, name: str) -> datetime:
    """A TAXII / STIX timestamp (RFC 3339, UTC ``Z`` or an offset)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(name, f"not a timestamp like 2025-01-31T12:00:00.000Z: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _values(given: Sequence[str] | None) -> frozenset[str] | None:
    if not given:
        return None
    found = frozenset(part.strip() for text in given for part in text.split(",") if part.strip())
    return found or None


def read_filters(
    *,
    added_after: str | None = None,
    ids: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    versions: Sequence[str] | None = None,
    spec_versions: Sequence[str] | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> Filters:
    """Filters from the request's text; ``Invalid`` names the one a client got wrong.
    ``match[...]`` values may be repeated or comma-separated."""
    if limit is not None and limit < 1:
        raise Invalid("limit", "must be at least 1")
    wanted_versions = _values(versions)
    if wanted_versions is not None:
        wanted_versions = frozenset(
            v if v in _KNOWN_VERSIONS else timestamp(parse_time(v, "match[version]"))
            for v in wanted_versions
        )
    return Filters(
        added_after=parse_time(added_after, "added_after") if added_after else None,
        ids=_values(ids),
        types=_values(types),
        versions=wanted_versions,
        spec_versions=_values(spec_versions),
        limit=min(limit or DEFAULT_PAGE, MAX_PAGE),
        cursor=Cursor.decode(next_token) if next_token else None,
    )


# --- Objects --------------------------------------------------------------------------------


@dataclass
class Entry:
    """One object served, with the date it was added to the collection."""

    # Plain (neither frozen nor slotted): one is built per object served, and those cost
    # twice as much to build.
    obj: dict[str, Any]
    date_added: str
    """To the microsecond the database keeps: a client's next ``added_after`` is this value,
    and a rounded one would give the newest objects again."""
    indicator_id: str | None
    """The indicator row behind the object; None for the fixed objects (:data:`FIXED`)."""

    @property
    def version(self) -> str:
        """The object's version: its ``modified``, or ``created`` for one never modified."""
        return str(self.obj.get("modified") or self.obj["created"])


@dataclass
class Page:
    """One page of a collection: its entries, and where the next one starts."""

    entries: list[Entry] = field(default_factory=list)
    more: bool = False
    next: str | None = None

    @property
    def first_added(self) -> str | None:
        return self.entries[0].date_added if self.entries else None

    @property
    def last_added(self) -> str | None:
        return self.entries[-1].date_added if self.entries else None


# Every indicator refers to our identity (created_by_ref) and to its TLP's marking definition
# (object_marking_refs): each collection serves those, first, so that every reference
# resolves within it. Their added dates are fixed and older than any row's, so they keep
# their place ahead of everything and a client's added_after never brings them back. RED
# is not among them: no RED object is ever served.
_FIXED_ADDED: Final = datetime(1970, 1, 1, tzinfo=UTC)
FIXED: Final[tuple[dict[str, Any], ...]] = (
    IDENTITY,
    *(TLP_MARKINGS[level] for level in ("clear", "green", "amber", "amber+strict")),
)
"""The objects every collection serves ahead of its indicators, in this order."""
_FIXED_IDS: Final = frozenset(obj["id"] for obj in FIXED)
_NO_ROW: Final = uuid.UUID(int=0)
"""The row id of a cursor on a fixed object: no indicator has it."""


def _fixed_added(position: int) -> datetime:
    return _FIXED_ADDED + timedelta(microseconds=position)


def _fixed_entries(filters: Filters) -> list[Entry]:
    """The fixed objects after the cursor and ``added_after`` that match the filters."""
    cursor = filters.cursor
    if cursor is not None and cursor.indicator_id != _NO_ROW:
        return []
    found = []
    for position, obj in enumerate(FIXED):
        added = _fixed_added(position)
        if cursor is not None and added <= cursor.added:
            continue
        if filters.added_after is not None and added <= filters.added_after:
            continue
        if filters.ids is not None and obj["id"] not in filters.ids:
            continue
        if filters.types is not None and obj["type"] not in filters.types:
            continue
        entry = Entry(dict(obj), added.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), None)
        if filters.wants_version(entry.version):
            found.append(entry)
    return found


def _cursor_after(entry: Entry) -> Cursor:
    added = datetime.fromisoformat(entry.date_added.replace("Z", "+00:00"))
    if entry.indicator_id is None:
        return Cursor(added, _NO_ROW)
    return Cursor(added, uuid.UUID(entry.indicator_id))


# --- Reading a collection's rows ---
#
# Paging is the server's hot path: rows are read straight through the driver (plain tuples,
# no result processing), in the form the object is written in. Times come as text in one
# format on both engines (SQLite stores it; PostgreSQL's to_char writes it), and become STIX
# timestamps by slicing; what an indicator takes from its metadata is worked out once per
# distinct metadata document and scores, which rows of one feed share.

_STORED_TIME: Final = "YYYY-MM-DD HH24:MI:SS.US"
"""How PostgreSQL writes a time for us: SQLAlchemy's SQLite storage format, in UTC."""


def _pg_time(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', '{_STORED_TIME}')"


def _page_sql(form: StorageForm, collection: Collection, filters: Filters, row_ids: bool) -> str:
    """The statement of one chunk of a collection's rows, after an optional keyset cursor.

    Parameters, in order: the collection (an IOC collection's), ``added_after``, the row ids,
    the cursor's added date and row id, the chunk's size.
    """
    if form.postgresql:
        columns = (
            "t.id::text, t.indicator_value, t.indicator_type::text, t.severity::text, "
            "t.confidence_score::float8, t.threat_score::float8, t.metadata::text, "
            f"{_pg_time('t.first_seen_at')}, {_pg_time('t.created_at')}, "
            f"{_pg_time('t.updated_at')}, {_pg_time('{added}')}"
        )
    else:
        columns = (
            "t.id, t.indicator_value, t.indicator_type, t.severity, t.confidence_score, "
            "t.threat_score, t.metadata, t.first_seen_at, t.created_at, t.updated_at, {added}"
        )
    if collection.is_all:
        added, key = "t.updated_at", "t.id"
        # The unary plus keeps SQLite's planner off the is_active index: with it, every page
        # sorted all active rows instead of walking the (updated_at, id) index from the cursor.
        active = "t.is_active" if form.postgresql else "+t.is_active = 1"
        source = f"{_INDICATORS} t"
        where = [active]
    else:
        added, key = "l.added_at", "l.indicator_id"
        source = f"{_LINKS} l JOIN {_INDICATORS} t ON t.id = l.indicator_id"
        # Every link is stamped when made; one without a time could not hold a place.
        where = ["l.collection_id = ?", "l.added_at IS NOT NULL"]
    if filters.added_after is not None:
        where.append(f"{added} > ?")
    if row_ids:
        where.append(form.in_list(key, "::uuid"))
    if filters.cursor is not None and filters.cursor.indicator_id != _NO_ROW:
        where.append(f"({added}, {key}) > (?, ?)")
    sql = (
        f"SELECT {columns.format(added=added)} FROM {source} "  # noqa: S608
        f"WHERE {' AND '.join(where)} ORDER BY {added}, {key} LIMIT ?"
    )
    return form.param(sql)


def _stix_time(stored: str | None, memo: dict[str | None, str]) -> str:
    """A stored time (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) as a STIX timestamp."""
    found = memo.get(stored)
    if found is None:
        if stored is not None and len(stored) == 26 and stored[10] == " ":
            # Milliseconds by truncation, as timestamp() writes them.
            found = f"{stored[:10]}T{stored[11:23]}Z"
        else:
            found = timestamp(_read_stored(stored))
        memo[stored] = found
    return found


def _read_stored(stored: str | None) -> datetime | None:
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _date_added(stored: str) -> str:
    if len(stored) == 26 and stored[10] == " ":
        return f"{stored[:10]}T{stored[11:]}Z"
    moment = _read_stored(stored)
    assert moment is not None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dashed(stored_id: str) -> str:
    """A UUID as SQLite stores it (32 hex digits) in its usual text form."""
    if len(stored_id) != 32:
        return stored_id
    return (
        f"{stored_id[:8]}-{stored_id[8:12]}-{stored_id[12:16]}-{stored_id[16:20]}-{stored_id[20:]}"
    )


@dataclass
class _Shape:
    """What rows sharing a metadata document, type, severity and threat score share."""

    metadata: dict[str, Any]
    tlp: str | None
    allowed: bool
    traits: IndicatorTraits


def _chunks(
    connection: Connection, collection: Collection, filters: Filters, chunk: int
) -> Iterator[list[Any]]:
    """The collection's rows after the cursor and ``added_after``, in keyset chunks."""
    form = StorageForm(connection)
    row_ids: list[str] | None = None
    if filters.ids is not None:
        found = _rows_for_ids(connection, collection, filters.ids)
        if not found:
            return
        row_ids = sorted(form.uuid(i) or "" for i in found)
    cursor = filters.cursor
    while True:
        after = cursor is not None and cursor.indicator_id != _NO_ROW
        current = replace(filters, cursor=cursor if after else None)
        params: list[Any] = []
        if not collection.is_all:
            params.append(form.uuid(collection.ioc_collection_id))
        if filters.added_after is not None:
            params.append(form.time(filters.added_after))
        if row_ids is not None:
            params.append(form.id_list(row_ids))
        if after:
            assert cursor is not None
            params.extend((form.time(cursor.added), form.uuid(cursor.indicator_id)))
        params.append(chunk)
        sql = _page_sql(form, collection, current, row_ids is not None)
        rows = form.fetch(connection, sql, params)
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        last = rows[-1]
        moment = _read_stored(last[10])
        assert moment is not None
        cursor = Cursor(moment, uuid.UUID(_dashed(last[0])))


def _rows_for_ids(
    connection: Connection, collection: Collection, stix_ids: frozenset[str]
) -> set[uuid.UUID]:
    """The indicator rows of the collection that may carry one of these STIX ids.

    Imported ids are found in the object store and in indicators' metadata; our own ids are
    UUIDv5 hashes, found by hashing the collection's indicator ids in batches (a scan, but
    of ids only and never held whole).
    """
    wanted = sorted(i for i in stix_ids if i.startswith("indicator--"))
    if not wanted:
        return set()
    statement, _, key = _base(collection)
    members = statement.with_only_columns(key)
    found: set[uuid.UUID] = set()
    for local_id in connection.scalars(
        sa.select(StixObject.local_id).where(
            StixObject.stix_id.in_(wanted), StixObject.local_table == _INDICATORS
        )
    ):
        try:
            found.add(uuid.UUID(str(local_id)))
        except ValueError:
            continue
    found.update(
        connection.scalars(
            members.where(ThreatIndicator.metadata_["stix_id"].as_string().in_(wanted))
        )
    )
    remaining = set(wanted)
    result = connection.execute(members.execution_options(yield_per=_ID_SCAN_BATCH))
    for batch in result.scalars().partitions():
        for row_id in batch:
            own = own_stix_id("indicator", _INDICATORS, row_id)
            if own in remaining:
                found.add(row_id)
                remaining.discard(own)
        if not remaining:
            result.close()
            break
    return found


def _base(collection: Collection) -> tuple[Any, Any, Any]:
    """The statement of a collection's rows with its two keyset columns (for id look-ups)."""
    if collection.is_all:
        statement = sa.select(ThreatIndicator.id).where(ThreatIndicator.is_active.is_(True))
        return statement, ThreatIndicator.updated_at, ThreatIndicator.id
    statement = (
        sa.select(ThreatIndicator.id)
        .join(CollectionIndicator, CollectionIndicator.indicator_id == ThreatIndicator.id)
        .where(
            CollectionIndicator.collection_id == collection.ioc_collection_id,
            CollectionIndicator.added_at.is_not(None),
        )
    )
    return statement, CollectionIndicator.added_at, CollectionIndicator.indicator_id


def page_objects(
    session: Session, *, caller: Caller, collection: Collection, filters: Filters
) -> Page:
    """One page of the collection's objects the caller may receive, matching the filters:
    the fixed objects (:data:`FIXED`) first, then the indicators.

    Objects the caller may not receive are skipped, not counted: a page holds ``limit`` of
    them whenever that many are left, and ``more`` is exact.
    """
    page = Page()
    if filters.spec_versions is not None and "2.1" not in filters.spec_versions:
        return page
    entries = page.entries
    limit = filters.limit
    for entry in _fixed_entries(filters):
        if len(entries) == limit:
            return _cut(page)
        entries.append(entry)
    if filters.types is not None and "indicator" not in filters.types:
        return page
    connection = session.connection()
    shapes: dict[tuple[Any, ...], _Shape] = {}
    times: dict[str | None, str] = {}
    received: dict[str | None, bool] = {}
    wants_version = filters.wants_version
    wanted_ids = filters.ids
    add = entries.append
    chunk = min(limit + 1, MAX_PAGE + 1)
    for rows in _chunks(connection, collection, filters, chunk):
        read = []
        for row in rows:
            shape_key = (row[6], row[2], row[3], row[5])
            shape = shapes.get(shape_key)
            if shape is None:
                shape = shapes[shape_key] = _shape(collection, caller, row, received)
            if shape.allowed:
                read.append((row, shape, _dashed(row[0])))
        ids = stix_ids_for(
            session,
            stix_type="indicator",
            table=_INDICATORS,
            rows=[(row_id, shape.metadata) for _, shape, row_id in read],
        )
        for row, shape, row_id in read:
            (_, value, indicator_type, _, confidence, _, _, first_seen, created, updated, added) = (
                row
            )
            stix_id = ids[row_id]
            if wanted_ids is not None and stix_id not in wanted_ids:
                continue
            kind = kind_of(indicator_type, value, shape.metadata)
            if kind is None:
                continue
            first = _stix_time(created, times)
            last = _stix_time(updated or created, times)
            obj = indicator_document(
                stix_id=stix_id,
                value=value,
                kind=kind,
                created=first,
                # A row touched in the same millisecond it was made must not read as
                # modified earlier.
                modified=last if last > first else first,
                valid_from=_stix_time(first_seen or created, times),
                confidence=confidence,
                tlp=shape.tlp,
                traits=shape.traits,
            )
            if obj is None or not wants_version(obj["modified"]):
                continue
            if len(entries) == limit:
                return _cut(page)
            add(Entry(obj, _date_added(added), row_id))
    return page


def _shape(
    collection: Collection, caller: Caller, row: Sequence[Any], received: dict[str | None, bool]
) -> _Shape:
    found = orjson.loads(row[6]) if row[6] else None
    metadata = found if isinstance(found, dict) else {}
    level = strictest(collection.tlp, indicator_tlp(metadata))
    allowed = received.get(level)
    if allowed is None:
        allowed = received[level] = may_receive(caller, level, collection)
    traits = indicator_traits(
        indicator_type=row[2], severity=row[3], threat_score=row[5], metadata=metadata
    )
    return _Shape(metadata, level, allowed, traits)


def _cut(page: Page) -> Page:
    """The page, full, with more to come after its last entry."""
    page.more = True
    page.next = _cursor_after(page.entries[-1]).encode()
    return page


def get_object(
    session: Session,
    *,
    caller: Caller,
    collection: Collection,
    object_id: str,
    filters: Filters,
) -> Page:
    """The object of this id (at most one version: the one we keep); NotFound if none."""
    ids = frozenset({object_id}) if filters.ids is None else filters.ids & {object_id}
    narrowed = replace(filters, ids=ids)
    page = page_objects(session, caller=caller, collection=collection, filters=narrowed)
    if not page.entries:
        raise NotFound(f"No object {object_id!r} in this collection.")
    return page


def manifest_entry(entry: Entry) -> dict[str, Any]:
    """The manifest record of one served object."""
    return {
        "id": entry.obj["id"],
        "date_added": entry.date_added,
        "version": entry.version,
        "media_type": STIX_MEDIA_TYPE,
    }


def delete_object(
    session: Session, *, caller: Caller, collection: Collection, object_id: str
) -> int:
    """Take an object out of the collection: out of an IOC collection (the indicator stays),
    or, from "All indicators", the indicator deactivated. Returns how many rows it touched."""
    if not collection.can_write:
        raise Forbidden("You may not change this collection.")
    if object_id in _FIXED_IDS:
        raise Forbidden(
            "Our identity and the TLP marking definitions are in every collection, "
            "for the objects that refer to them; they cannot be deleted."
        )
    page = get_object(
        session,
        caller=caller,
        collection=collection,
        object_id=object_id,
        filters=Filters(limit=MAX_PAGE),
    )
    row_ids = [uuid.UUID(entry.indicator_id) for entry in page.entries if entry.indicator_id]
    if not row_ids:
        raise NotFound(f"No object {object_id!r} in this collection.")
    if collection.ioc_collection_id is not None:
        change = ioc_collections.remove_indicators(
            session,
            actor=caller.actor,
            collection_id=collection.ioc_collection_id,
            indicators=[str(i) for i in row_ids],
            see_all=caller.is_admin,
        )
        return change.changed
    now = utcnow()
    session.execute(
        sa.update(ThreatIndicator)
        .where(ThreatIndicator.id.in_(row_ids))
        .values(is_active=False, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor=caller.actor,
        action="taxii.delete_object",
        resource_type="threat_indicator",
        resource_id=str(row_ids[0]),
        details={"stix_id": object_id, "collection": collection.id, "deactivated": True},
    )
    return len(row_ids)


# --- Adding objects -------------------------------------------------------------------------


def add_objects(
    session: Session,
    *,
    caller: Caller,
    collection: Collection,
    envelope: Any,
    suppressor: Suppressor | None = None,
    max_bytes: int | None = None,
) -> TaxiiStatus:
    """Import an envelope's objects (the STIX import: indicators, knowledge, the object
    store) and add the indicators they gave to the IOC collection; the status is stored."""
    if not collection.can_write:
        raise Forbidden("You may not add objects to this collection.")
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
        raise Invalid("objects", "send a TAXII envelope: a JSON object with an 'objects' list")
    objects: list[Any] = envelope["objects"]
    requested = utcnow()
    source = ensure_source(
        session, actor=caller.actor, name=f"{SOURCE_PREFIX}: {collection.title}"[:255]
    )
    summary = import_bundle(
        session,
        bundle={"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects},
        source=source,
        actor=caller.actor,
        suppressor=suppressor,
        max_bytes=max_bytes,
    )
    failed = {error.position - 1: error.reason for error in summary.errors}
    successes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    unreported = 0
    for position, obj in enumerate(objects):
        stix_id = obj.get("id") if isinstance(obj, dict) else None
        version = obj.get("modified") or obj.get("created") if isinstance(obj, dict) else None
        if not isinstance(stix_id, str):
            unreported += 1
            continue
        record = {"id": stix_id, "version": version if isinstance(version, str) else ""}
        if position in failed:
            failures.append({**record, "message": failed[position]})
        else:
            successes.append(record)
    failure_count = len(failures) + unreported
    if collection.ioc_collection_id is not None and successes:
        _collect(session, caller, collection, [s["id"] for s in successes])
    status = TaxiiStatus(
        collection_id=collection.id,
        status="complete",
        request_timestamp=requested,
        total_count=len(objects),
        success_count=len(objects) - failure_count,
        failure_count=failure_count,
        pending_count=0,
        successes=successes,
        failures=failures,
        pendings=[],
        created_by=caller.user_id,
    )
    session.add(status)
    session.flush()
    log.info(
        "taxii add collection=%s status=%s objects=%d failed=%d",
        collection.id,
        status.id,
        len(objects),
        failure_count,
    )
    return status


def _collect(session: Session, caller: Caller, collection: Collection, stix_ids: list[str]) -> None:
    """Add the indicators these imported STIX ids became to the IOC collection."""
    assert collection.ioc_collection_id is not None
    row_ids: set[str] = set()
    for start in range(0, len(stix_ids), 1000):
        chunk = stix_ids[start : start + 1000]
        row_ids.update(
            str(local_id)
            for local_id in session.scalars(
                sa.select(StixObject.local_id).where(
                    StixObject.stix_id.in_(chunk), StixObject.local_table == _INDICATORS
                )
            )
            if local_id
        )
    if row_ids:
        ioc_collections.add_indicators(
            session,
            actor=caller.actor,
            collection_id=collection.ioc_collection_id,
            indicators=sorted(row_ids),
            see_all=caller.is_admin,
        )


def get_status(session: Session, *, caller: Caller, status_id: str) -> TaxiiStatus:
    """A status resource, for the caller who posted the envelope and for admins."""
    try:
        wanted = uuid.UUID(status_id)
    except ValueError:
        raise NotFound(f"No status {status_id!r}.") from None
    status = session.get(TaxiiStatus, wanted)
    if status is None or not (caller.is_admin or status.created_by == caller.user_id):
        raise NotFound(f"No status {status_id!r}.")
    return status


def status_document(status: TaxiiStatus) -> dict[str, Any]:
    """A status row as the TAXII status resource."""
    return {
        "id": str(status.id),
        "status": status.status,
        "request_timestamp": timestamp(status.request_timestamp),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "successes": status.successes or [],
        "failure_count": status.failure_count,
        "failures": status.failures or [],
        "pending_count": status.pending_count,
        "pendings": status.pendings or [],
    }


def envelope_bytes(page: Page) -> bytes:
    """A page as a TAXII envelope, serialised once."""
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next
    if page.entries:
        body["objects"] = [entry.obj for entry in page.entries]
    return orjson.dumps(body)
