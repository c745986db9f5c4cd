"""Keyset pagination: ``limit`` + an opaque ``cursor``, with the total count of matches.

Keyset paging stays fast on large tables (the audit log, indicators) where OFFSET would
scan every skipped row. ``paginate`` pages in one fixed order; ``paginate_sorted`` in the
order a client picks by name, with cursors that remember it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from krsn.errors import Invalid

T = TypeVar("T")

MAX_LIMIT = 500
_FOREIGN_CURSOR = "not a cursor this API issued; start again without it"
# Between the sort order a cursor was issued for and the keyset values it holds.
_SORT_SEPARATOR = "~"


@dataclass
class PageResult(Generic[T]):
    items: list[T]
    total: int
    limit: int
    next_cursor: str | None


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: list[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        # _encode writes only strings; anything else, or text no engine stores, is forged.
        if not all(isinstance(value, str) and "\x00" not in value for value in raw):
            raise ValueError("not a cursor value")
        values: list[Any] = []
        for column, value in zip(columns, raw, strict=True):
            python_type = column.type.python_type
            if python_type is datetime:
                moment = datetime.fromisoformat(value)
                values.append(moment.astimezone(UTC) if moment.tzinfo else moment)
            elif python_type is uuid.UUID:
                values.append(uuid.UUID(value))
            else:
                values.append(python_type(value))
        return values
    except (
        ValueError,
        TypeError,
        OverflowError,
        binascii.Error,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ):
        raise Invalid("cursor", _FOREIGN_CURSOR) from None


def paginate(
    session: Session,
    statement: Select[Any],
    *,
    order_by: list[InstrumentedAttribute[Any]],
    limit: int,
    cursor: str | None = None,
    descending: bool = True,
) -> PageResult[Any]:
    """One page of ``statement``'s rows ordered by ``order_by`` (ending in a unique column)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    page = statement
    if cursor:
        values = _decode(cursor, order_by)
        # (a, b) < (x, y) spelled out, since row-value comparisons differ between engines.
        clauses = []
        for index, column in enumerate(order_by):
            equal = [order_by[i] == values[i] for i in range(index)]
            beyond = column < values[index] if descending else column > values[index]
            clauses.append(and_(*equal, beyond))
        page = page.where(or_(*clauses))
    ordering = [c.desc() if descending else c.asc() for c in order_by]
    rows = list(session.scalars(page.order_by(*ordering).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode([getattr(last, c.key) for c in order_by])
    return PageResult(items=rows, total=int(total or 0), limit=limit, next_cursor=next_cursor)


def paginate_sorted(
    session: Session,
    statement: Select[Any],
    *,
    sort: str,
    columns: Mapping[str, InstrumentedAttribute[Any]],
    tie: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None = None,
) -> PageResult[Any]:
    """One page of ``statement``'s rows in ``sort`` order: a key of ``columns`` ascending, or
    descending with a leading ``-``; ``tie`` (a unique column) orders rows that share a value.

    The cursor names the order it was issued for, so it cannot page through another one.
    """
    column = columns.get(sort.removeprefix("-"))
    if column is None:
        choices = ", ".join(f"{name}, -{name}" for name in columns)
        raise Invalid("sort", f"must be one of {choices}")
    inner = None
    if cursor:
        issued_for, separator, inner = cursor.partition(_SORT_SEPARATOR)
        if not separator or not inner:
            raise Invalid("cursor", _FOREIGN_CURSOR)
        if issued_for != sort:
            raise Invalid("cursor", "issued for another sort order; start again without it")
    result = paginate(
        session,
        statement,
        order_by=[column, tie],
        limit=limit,
        cursor=inner,
        descending=sort.startswith("-"),
    )
    if result.next_cursor is not None:
        result.next_cursor = f"{sort}{_SORT_SEPARATOR}{result.next_cursor}"
    return result
