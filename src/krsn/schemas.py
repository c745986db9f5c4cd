"""Shapes shared by every API: the page envelope, and times a client may send."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, Field

from krsn.db.pagination import PageResult

T = TypeVar("T")


def _expressible_in_utc(value: datetime) -> datetime:
    # 0001-01-01T00:00+14:00 parses, but is before datetime.min in UTC, where it is stored.
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError(
                "is out of range once converted to UTC; give a time within the years 1 to 9999 UTC"
            ) from None
    return value


UtcDateTime = Annotated[datetime, AfterValidator(_expressible_in_utc)]
"""A datetime from a client that can be stored: in UTC it stays within the years 1 to 9999."""


class Page(BaseModel, Generic[T]):
    """One page of results; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    total: int = Field(description="How many results match, across all pages.")
    limit: int
    next_cursor: str | None = Field(None, description="Null on the last page.")


def page_of(result: PageResult[Any], shape: Callable[[Any], Any]) -> dict[str, Any]:
    """The page envelope of a service's result, each item shaped for the answer."""
    return {
        "items": [shape(item) for item in result.items],
        "total": result.total,
        "limit": result.limit,
        "next_cursor": result.next_cursor,
    }


Limit = Annotated[int, Query(ge=1, le=500, description="Results per page.")]
Cursor = Annotated[
    str | None, Query(max_length=1024, description="next_cursor of the previous page.")
]
