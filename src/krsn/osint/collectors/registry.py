"""The collectors, found through the ``krsn.collectors`` entry points (built-ins included).

A plugin is one module with a class following :class:`krsn.osint.collectors.base.Collector`,
registered in its distribution's ``pyproject.toml`` under a name of its own::

    [project.entry-points."krsn.collectors"]
    bluesky = "acme_osint.bluesky:BlueskyCollector"

The class declares its ``collector_type``, one of the six categories
(:class:`~krsn.osint.models.CollectorType`); a collection names the collector it runs
(``collections.collector``) within that category. The six built-ins are registered under
their category's name, and a collection that names no collector runs the one registered
under its category's name.

Registering a category's name (``social_media = ...``) replaces that built-in: when two
distributions register one name, the one that is not KRSN itself wins, and the choice is
logged. A plugin is skipped, with a logged warning, when it fails to import, lacks the
interface, declares a category that is not one of the six, or takes a category's name while
declaring another category.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from krsn.errors import Invalid
from krsn.osint.collectors.base import Collector
from krsn.osint.models import CollectorType

__all__ = [
    "GROUP",
    "MAX_NAME",
    "available",
    "category",
    "describe",
    "get",
    "name_of",
    "refresh",
    "validate_config",
]

log = logging.getLogger(__name__)

GROUP = "krsn.collectors"
MAX_NAME = 100
"""The longest collector name: the width of ``collections.collector``."""
_BUILT_IN_PREFIX = "krsn."
_CATEGORIES = frozenset(kind.value for kind in CollectorType)


def _is_collector(cls: object) -> bool:
    config = getattr(cls, "Config", None)
    return (
        isinstance(cls, type)
        and isinstance(config, type)
        and issubclass(config, BaseModel)
        and callable(getattr(cls, "collect", None))
        and isinstance(getattr(cls, "description", None), str)
    )


def _built_in(entry: EntryPoint) -> bool:
    return entry.value.startswith(_BUILT_IN_PREFIX)


def _category(cls: type[Collector]) -> CollectorType | None:
    try:
        return CollectorType(str(getattr(cls, "collector_type", None)))
    except ValueError:
        return None


def _load(entry: EntryPoint) -> type[Collector] | None:
    """The entry point's collector class, or None (logged) when it cannot serve."""
    if not entry.name or len(entry.name) > MAX_NAME or entry.name != entry.name.strip():
        log.warning(
            "collector %r ignored: its name %r is empty or too long", entry.value, entry.name
        )
        return None
    try:
        cls = entry.load()
    except Exception:
        # One broken plugin must not take the others (or the app) down with it.
        log.exception("collector %r failed to load", entry.value)
        return None
    if not _is_collector(cls):
        log.warning(
            "collector %r ignored: it needs a pydantic Config, a description and collect()",
            entry.value,
        )
        return None
    kind = _category(cls)
    if kind is None:
        log.warning(
            "collector %s (%r) ignored: its collector_type %r is not one of %s",
            entry.name,
            entry.value,
            getattr(cls, "collector_type", None),
            ", ".join(t.value for t in CollectorType),
        )
        return None
    if entry.name in _CATEGORIES and entry.name != kind.value:
        # Collections without a collector run the one under their category's name: it
        # must serve that category.
        log.warning(
            "collector %s (%r) ignored: it is registered under a category's name but declares %s",
            entry.name,
            entry.value,
            kind.value,
        )
        return None
    return cls


@lru_cache
def available() -> dict[str, type[Collector]]:
    """Every installed collector class, by its registered name (built-ins: the category)."""
    chosen: dict[str, tuple[EntryPoint, type[Collector]]] = {}
    # Built-ins first, so a plugin registered under the same name replaces them.
    for entry in sorted(entry_points(group=GROUP), key=lambda e: (not _built_in(e), e.value)):
        cls = _load(entry)
        if cls is None:
            continue
        if entry.name in chosen:
            log.info(
                "collector %s: %r replaces %r", entry.name, entry.value, chosen[entry.name][0].value
            )
        chosen[entry.name] = (entry, cls)
    return {name: cls for name, (_, cls) in sorted(chosen.items())}


def refresh() -> None:
    """Forget what was discovered, so a distribution installed since is found."""
    available.cache_clear()


def name_of(collector: CollectorType | str) -> str:
    """The registered name a collector is asked by: a category stands for its built-in."""
    return collector.value if isinstance(collector, CollectorType) else str(collector).strip()


def _class(collector: CollectorType | str, field: str) -> type[Collector]:
    found = available()
    cls = found.get(name_of(collector))
    if cls is None:
        installed = ", ".join(found)
        raise Invalid(field, f"no collector named {collector!r}; installed: {installed}")
    return cls


def get(collector: CollectorType | str, *, field: str = "collector") -> Collector:
    """An instance of the collector registered as ``collector`` (a category: its built-in);
    Invalid on ``field`` naming the installed ones when there is none."""
    return _class(collector, field)()


def category(collector: CollectorType | str, *, field: str = "collector") -> CollectorType:
    """The category (collector type) the collector registered as ``collector`` serves."""
    kind = _category(_class(collector, field))
    assert kind is not None  # available() keeps only collectors of a known category
    return kind


def validate_config(
    collector: CollectorType | str, config: dict[str, Any], *, field: str = "collector"
) -> BaseModel:
    """``config`` checked by the collector's Config model; Invalid naming the first bad field."""
    cls = _class(collector, field)
    try:
        return cls.Config.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "config"
        raise Invalid(f"config.{where}", first.get("msg", "invalid")) from exc


def describe() -> list[dict[str, Any]]:
    """Each installed collector's name, category, description and config schema."""
    return [
        {
            "name": name,
            "collector_type": (_category(cls) or CollectorType.CUSTOM).value,
            # Runs the collections of its category that name no collector.
            "default": name in _CATEGORIES,
            "description": cls.description,
            "config_schema": cls.Config.model_json_schema(),
            "module": f"{cls.__module__}:{cls.__qualname__}",
        }
        for name, cls in available().items()
    ]
