"""Helpers any test module may import (``from support import shared_data``).

They live here rather than in conftest.py because every conftest outside a package is
imported under the one name ``conftest``, so importing from it is ambiguous.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# The public sample data sits beside the repository, never inside it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def unavailable(reason: str) -> None:
    """Skip outside CI, fail under CI: CI must exercise every engine and every sample."""
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping (or failing under CI) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        unavailable(f"shared test data not found at {path}")
    return path
