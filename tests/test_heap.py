"""The collector is tuned for batch work, and the tuning can be undone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from krsn.heap import YOUNG_THRESHOLD, tune_for_batches


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


@pytest.mark.usefixtures("thresholds")
def test_young_collections_wait_for_a_batch_of_allocations() -> None:
    previous = tune_for_batches()
    assert previous == (700, 10, 10)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD


@pytest.mark.usefixtures("thresholds")
def test_what_start_up_built_is_frozen_out_of_full_collections() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    tune_for_batches()
    assert gc.get_freeze_count() > 1000


@pytest.mark.usefixtures("thresholds")
def test_a_wider_threshold_set_by_the_operator_is_kept() -> None:
    gc.set_threshold(YOUNG_THRESHOLD * 3, 10, 10)
    tune_for_batches()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD * 3
