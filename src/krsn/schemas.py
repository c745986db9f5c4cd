"""Shapes shared by every API: the page envelope."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of results; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    total: int = Field(description="How many results match, across all pages.")
    limit: int
    next_cursor: str | None = Field(None, description="Null on the last page.")
