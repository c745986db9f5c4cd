"""How the process's garbage collector runs: tuned for the batch work of the hot paths.

A lookup or an ingestion batch makes tens of thousands of short-lived objects (canonical
values, rows, results). With CPython's default thresholds the cyclic collector starts a
young-generation pass every 700 allocations and, every hundred of those, walks every live
object of the process, including the long-lived ones (modules, the range index, caches):
measured on a lookup of 10,000 observables that is a third of the batch's time. None of
those batch objects form cycles, so they are freed by reference counting anyway; the
collector only needs to run often enough to bound the memory cycles from elsewhere can
hold. :func:`tune_for_batches` makes the young generation a batch wide and moves what
start-up built out of the collector's sight (:func:`gc.freeze`), as long-running Python
services do.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["YOUNG_THRESHOLD", "tune_for_batches"]

YOUNG_THRESHOLD: Final = 100_000
"""Allocations between two young-generation collections (CPython's default is 700)."""
_OLDER_THRESHOLDS: Final = (50, 100)


def tune_for_batches() -> tuple[int, int, int]:
    """Collect cycles per batch rather than per few hundred objects; returns the thresholds
    that were in force, so a caller can put them back."""
    before = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, before[0]), *_OLDER_THRESHOLDS)
    # What exists now (imports, settings, the app) lives as long as the process: later full
    # collections need not walk it again.
    gc.freeze()
    return before[0], before[1], before[2]
