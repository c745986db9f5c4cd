"""Helpers the collector tests import: a permissive client for 127.0.0.1 and a full run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from krsn.osint.collectors.base import Collected, CollectorContext
from krsn.osint.collectors.http import CollectorClient, collector_client

RECORDINGS = Path(__file__).parent / "recordings"


def local_client(**overrides: Any) -> CollectorClient:
    """A collector client allowed to reach 127.0.0.1, fast enough for tests."""
    settings: dict[str, Any] = {
        "rate_per_minute": 600_000,
        "proxy": None,
        "allow_private": True,
        "allowed_hosts": (),
        "timeout": 5.0,
    }
    settings.update(overrides)
    return collector_client(**settings)


@dataclass
class Run:
    records: list[Collected]
    progress: list[tuple[int, int]]


def run(collector: Any, config: dict[str, Any], context: CollectorContext | None = None) -> Run:
    """Validate ``config`` with the collector's model and collect everything."""
    progress: list[tuple[int, int]] = []
    if context is None:
        context = CollectorContext(client=local_client())
    context.progress = lambda done, total: progress.append((done, total))
    model = collector.Config.model_validate(config)
    return Run(list(collector.collect(model, context)), progress)
