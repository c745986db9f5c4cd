"""Runs the Playwright suite (web/e2e/*.spec.ts) against a served app in Debian's chromium.

Each spec is its own pytest test, so a failure names the scenario. Screenshots of the main
pages land in web/test-results/screenshots/ as artifacts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("KRSN_E2E_CHROMIUM", "/usr/bin/chromium"))
SHARED_DATA = ROOT.parent / "shared" / "data"
SPECS = sorted(path.name for path in (WEB / "e2e").glob("*.spec.ts"))


def test_every_spec_is_collected() -> None:
    assert "signin.spec.ts" in SPECS, SPECS


@pytest.mark.parametrize("spec", SPECS)
def test_spec(spec: str, e2e_server: dict[str, Any]) -> None:
    env = {
        **os.environ,
        "E2E_BASE_URL": e2e_server["base_url"],
        "E2E_ACCOUNTS": json.dumps(e2e_server["accounts"]),
        "E2E_CHROMIUM": str(CHROMIUM),
        "E2E_SHARED_DATA": str(SHARED_DATA) if SHARED_DATA.exists() else "",
    }
    result = subprocess.run(
        ["npx", "playwright", "test", f"e2e/{spec}", "--reporter=line"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{spec} failed:\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}"
    )
