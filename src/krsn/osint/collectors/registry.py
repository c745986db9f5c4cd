"""The collectors, found through the ``krsn.collectors`` entry points (built-ins included).

A plugin is one module with a class following :class:`krsn.osint.collectors.base.Collector`,
registered in its distribution's ``pyproject.toml`` under the collector type it serves::

    [project.entry-points."krsn.collectors"]
    social_media = "acme_osint.fediverse:FediverseCollector"

The name must be one of the collector types (:class:`~krsn.osint.models.CollectorType`): the
type is a column with a fixed set of values. When two distributions register one type, the
one that is not KRSN itself wins, so installing a plugin replaces a built-in without editing
anything; the choice is logged.
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

__all__ = ["GROUP", "available", "describe", "get", "refresh", "validate_config"]

log = logging.getLogger(__name__)

GROUP = "krsn.collectors"
_BUILT_IN_PREFIX = "krsn."


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


@lru_cache
def available() -> dict[CollectorType, type[Collector]]:
    """Every installed collector class, by the collector type it serves."""
    chosen: dict[CollectorType, tuple[EntryPoint, type[Collector]]] = {}
    # Built-ins first, so a plugin registered for the same type replaces them.
    for entry in sorted(entry_points(group=GROUP), key=lambda e: (not _built_in(e), e.value)):
        try:
            kind = CollectorType(entry.name)
        except ValueError:
            log.warning("collector %r ignored: %s is not a collector type", entry.value, entry.name)
            continue
        try:
            cls = entry.load()
        except Exception:
            # One broken plugin must not take the others (or the app) down with it.
            log.exception("collector %r failed to load", entry.value)
            continue
        if not _is_collector(cls):
            log.warning(
                "collector %r ignored: it needs a pydantic Config, a description and collect()",
                entry.value,
            )
            continue
        if kind in chosen:
            log.info("collector %s: %r replaces %r", kind.value, entry.value, chosen[kind][0].value)
        chosen[kind] = (entry, cls)
    return {kind: cls for kind, (_, cls) in sorted(chosen.items())}


def refresh() -> None:
    """Forget what was discovered, so a distribution installed since is found."""
    available.cache_clear()


def get(collector_type: CollectorType | str) -> Collector:
    """An instance of the collector of ``collector_type``; Invalid when none is installed."""
    try:
        cls = available().get(CollectorType(collector_type))
    except ValueError:
        cls = None
    if cls is None:
        installed = ", ".join(sorted(k.value for k in available()))
        raise Invalid(
            "collector_type", f"no collector for {collector_type!r}; installed: {installed}"
        )
    return cls()


def validate_config(collector_type: CollectorType | str, config: dict[str, Any]) -> BaseModel:
    """``config`` checked by the collector's Config model; Invalid naming the first bad field."""
    collector = get(collector_type)
    try:
        return collector.Config.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "config"
        raise Invalid(f"config.{where}", first.get("msg", "invalid")) from exc


def describe() -> list[dict[str, Any]]:
    """Each installed collector's type, description and config schema, for listings."""
    return [
        {
            "collector_type": kind.value,
            "description": cls.description,
            "config_schema": cls.Config.model_json_schema(),
            "module": f"{cls.__module__}:{cls.__qualname__}",
        }
        for kind, cls in available().items()
    ]
