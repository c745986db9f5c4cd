"""The feed formats installed: built-ins and plugins, all found through entry points.

A format is a class (or an instance) named in the ``krsn.feed_formats`` entry-point group; the
built-ins are listed in this project's ``pyproject.toml`` the same way a plugin lists its own:

    [project.entry-points."krsn.feed_formats"]
    csv = "krsn.feeds.formats.csv_format:CsvFormat"

Entry points are read once per process.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Final

from krsn.errors import Invalid
from krsn.feeds.formats.base import FeedFormat

log = logging.getLogger(__name__)

GROUP: Final = "krsn.feed_formats"


@cache
def _load() -> MappingProxyType[str, FeedFormat]:
    formats: dict[str, FeedFormat] = {}
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            loaded = entry.load()
            instance = loaded() if isinstance(loaded, type) else loaded
        except Exception:  # a broken plugin must not take the built-ins down with it
            log.exception("feed format %r (%s) failed to load; skipped", entry.name, entry.value)
            continue
        if not isinstance(instance, FeedFormat):
            log.error("feed format %r (%s) is not a FeedFormat; skipped", entry.name, entry.value)
            continue
        if entry.name in formats:
            log.error("feed format %r is registered twice; keeping the first", entry.name)
            continue
        formats[entry.name] = instance
    return MappingProxyType(formats)


def available_formats() -> dict[str, FeedFormat]:
    """Every installed feed format by name."""
    return dict(_load())


def get_format(name: str) -> FeedFormat:
    """The feed format called ``name``; ``Invalid`` naming the installed ones otherwise."""
    formats = _load()
    try:
        return formats[name]
    except KeyError:
        available = ", ".join(sorted(formats)) or "none installed"
        raise Invalid("format", f"unknown format {name!r}; available: {available}") from None
