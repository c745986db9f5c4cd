"""The writer process: stores prepared batches while the caller prepares the next one.

Parsing, normalising and warninglist checks are Python work; storing is mostly database
work (SQLite's B-trees, PostgreSQL's server). In one process they take turns; with the
store in a second process they overlap on two cores. Only runs long enough to repay the
process start (about a second) use it: :func:`krsn.feeds.pipeline.ingest` hands over once
a run has passed ``parallel_after`` rows.

The writer is a fresh interpreter running this module; batches cross a pipe as plain
tuples (cheaper to pickle than objects). The writer commits
each batch on its own, as the caller would. A run stopped halfway keeps every batch it
handed over: the writer stores what is in the pipe, then exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from krsn.errors import KrsnError
from krsn.heap import tune_for_batches
from krsn.indicators.normalise import KIND_BY_VALUE, Indicator
from krsn.indicators.store import Report

log = logging.getLogger(__name__)

# One batch being stored while the next is prepared; a third waits in the pipe.
IN_FLIGHT = 2
JOIN_SECONDS = 30.0

Packed = tuple[Any, ...]


class WriterFailed(KrsnError):
    """The writer process stopped with an error; batches it committed are kept."""

    status = 500
    title = "Ingestion failed"


def pack(prepared: Sequence[Any]) -> list[Packed]:
    """Prepared values as tuples of plain values."""
    out: list[Packed] = []
    add = out.append
    for item in prepared:
        indicator, report = item.indicator, item.report
        add(
            (
                indicator.kind.value,
                indicator.value,
                indicator.signature,
                report.seen_at,
                report.confidence,
                report.first_seen,
                report.tags,
                report.malware_family,
                report.suppressed_by,
                item.raw_text,
                item.processed,
            )
        )
    return out


def unpack(packed: Sequence[Packed]) -> list[Any]:
    """The inverse of :func:`pack`."""
    from krsn.feeds.pipeline import Prepared

    kinds = KIND_BY_VALUE
    out: list[Any] = []
    add = out.append
    for kind, value, signature, seen, confidence, first, tags, family, stopped, raw, done in packed:
        indicator = Indicator(kinds[kind], value, signature)
        add(
            Prepared(
                indicator,
                Report(indicator, seen, confidence, first, tags, family, stopped),
                raw,
                done,
            )
        )
    return out


def _serve(channel_in: Connection, channel_out: Connection) -> None:
    """The writer's loop: store each batch received, answer with its counts."""
    import gc

    from krsn.db import Database
    from krsn.db.types import utcnow
    from krsn.feeds.pipeline import store_batch

    gc.disable()  # as in the caller: batch garbage holds no cycles
    url, busy_timeout_ms, cache_mb, context = channel_in.recv()
    from krsn.config import get_settings
    from krsn.detection.stream.bus import start_publisher

    # Alerts raised while storing reach the live stream through Redis, when configured.
    start_publisher(get_settings())
    database = Database(url, busy_timeout_ms=busy_timeout_ms, cache_mb=cache_mb)

    def answer(message: tuple[str, Any]) -> None:
        # A caller that stopped early no longer listens; what it sent is still stored.
        with contextlib.suppress(OSError):
            channel_out.send(message)

    try:
        while True:
            try:
                message = channel_in.recv()
            except EOFError:  # the caller is gone and every batch it sent is stored
                return
            if message is None:
                return
            try:
                with database.transaction() as session:
                    # Stamped inside the transaction, so readers that look for rows changed
                    # since a transaction began (the lookup's range index) never miss one.
                    counts = store_batch(session, prepared=unpack(message), now=utcnow(), **context)
            except Exception as exc:  # reported to the caller, who raises it
                answer(("error", f"{type(exc).__name__}: {exc}"))
                return
            answer(("ok", counts))
    finally:
        database.dispose()


class Writer:
    """A writer process for one run."""

    def __init__(self, database: Any, *, context: dict[str, Any]) -> None:
        # A fresh interpreter running this module: unlike multiprocessing's spawn, it never
        # re-runs the caller's main script, and unlike fork it is safe in a threaded server.
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", __name__, str(child_in), str(child_out)],
            pass_fds=(child_in, child_out),
            stdin=subprocess.DEVNULL,
        )
        os.close(child_in)
        os.close(child_out)
        self._out = Connection(to_child, readable=False)
        self._in = Connection(from_child, writable=False)
        self._pending: list[int] = []
        self._send((database.url, database.busy_timeout_ms, database.cache_mb, context))

    def submit(self, prepared: Sequence[Any], rows: int) -> list[tuple[Any, int]]:
        """Send a batch; returns the answers (counts, rows) of batches finished meanwhile."""
        self._send(pack(prepared))
        self._pending.append(rows)
        done = []
        while len(self._pending) > IN_FLIGHT or (self._pending and self._in.poll()):
            done.append(self._answer())
        return done

    def finish(self) -> list[tuple[Any, int]]:
        """Wait for every batch sent; then let the process end."""
        done = [self._answer() for _ in list(self._pending)]
        self._send(None)
        self.close()
        return done

    def close(self) -> None:
        """Stop: the process stores what it was sent, then exits."""
        self._out.close()
        try:
            self._process.wait(JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("ingest writer did not stop in %.0f s; terminating it", JOIN_SECONDS)
            self._process.kill()
            self._process.wait()
        self._in.close()

    def _send(self, message: Any) -> None:
        try:
            self._out.send(message)
        except OSError:
            raise WriterFailed("the ingest writer process stopped unexpectedly") from None

    def _answer(self) -> tuple[Any, int]:
        try:
            status, payload = self._in.recv()
        except EOFError:
            raise WriterFailed("the ingest writer process stopped unexpectedly") from None
        rows = self._pending.pop(0)
        if status != "ok":
            raise WriterFailed(f"storing a batch failed: {payload}")
        return payload, rows


if __name__ == "__main__":
    tune_for_batches()
    _serve(
        Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
    )
