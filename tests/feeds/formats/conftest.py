"""Fixtures for the feed-format tests: the shared data set, and parsing into rows and errors."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from krsn.feeds.formats.base import ParsedRow, ParseError
from krsn.feeds.formats.registry import get_format
from support import shared_data as _shared_data

Parsed = tuple[list[ParsedRow], list[ParseError]]


def _parse(fmt: str, source: Path | bytes, rules: Mapping[str, Any] | None = None) -> Parsed:
    rows: list[ParsedRow] = []
    errors: list[ParseError] = []
    stream = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
    with stream:
        for item in get_format(fmt).parse(stream, rules or {}):
            (errors if isinstance(item, ParseError) else rows).append(item)  # type: ignore[arg-type]
    return rows, errors


@pytest.fixture
def shared_data() -> Callable[..., Path]:
    """``shared_data("feeds", "ipsum", "ipsum.txt")``: a path in the shared data set.

    Skips when the data set is absent, and fails under ``CI=true``.
    """
    return _shared_data


@pytest.fixture
def parse() -> Callable[..., Parsed]:
    """``parse("csv", path_or_bytes, rules)``: the rows and the errors, in order."""
    return _parse
