"""Shapes shared by every API: the page envelope, and times a client may send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field

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
