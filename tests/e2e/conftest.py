"""Browser tests: the real app, built UI and a fresh SQLite database in a server process, and
Playwright driving Debian's chromium. Outside CI they skip when the browser or the built UI
is missing; under CI that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("KRSN_E2E_CHROMIUM", "/usr/bin/chromium"))
UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    if shutil.which("npx") is None:
        return "Node.js and npm are not installed"
    if not (WEB / "node_modules" / "@playwright" / "test").exists():
        return "the UI's packages are not installed (make ui)"
    if not (WEB / "dist" / "index.html").exists():
        return "the UI is not built (make ui)"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if UNDER_CI:
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def e2e_server(
    browser_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A served app with seeded accounts: ``{"base_url", "accounts", "data_dir"}``."""
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'e2e.db'}"
    seeded = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("seed.py")), url],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    accounts = json.loads(seeded.stdout.strip().splitlines()[-1])
    attack = ROOT.parent / "shared" / "data" / "attack" / "enterprise-attack-18.1.json.gz"
    if attack.exists():
        # The matrix and the technique tabs then show ATT&CK itself.
        subprocess.run(
            [str(Path(sys.executable).with_name("krsn")), "attack", "import", str(attack)],
            check=True,
            capture_output=True,
            env={**os.environ, "KRSN_DATABASE_URL": url},
            cwd=ROOT,
        )
    imports = folder / "imports"
    imports.mkdir()
    # A sanctions list whose names are script payloads: the XSS test imports it as entities.
    (imports / "hostile-sanctions.csv").write_text(
        "id,schema,name,aliases,birth_date,countries,addresses,identifiers,sanctions,phones,"
        "emails,dataset,first_seen,last_seen,last_change\n"
        'xss-1,Company,"<script>window.__xss=1</script> Holdings",'
        '"<img src=x onerror=window.__xss=2>",,us,,,Hostile list,,,Hostile,'
        "2026-01-05,2026-11-01,2026-11-01\n"
        'xss-2,Person,"javascript:window.__xss=3",,,us,,,Hostile list,,,Hostile,'
        "2026-01-05,2026-11-01,2026-11-01\n",
        encoding="utf-8",
    )
    port = _free_port()
    env = {
        **os.environ,
        "KRSN_DATABASE_URL": url,
        "KRSN_UI_DIR": str(WEB / "dist"),
        "KRSN_HOST": "127.0.0.1",
        "KRSN_PORT": str(port),
        "KRSN_SCHEDULER_ENABLED": "false",
        "KRSN_LOGIN_MAX_FAILURES": "50",
        "KRSN_OSINT_IMPORT_DIR": str(imports),
    }
    env.pop("KRSN_REDIS_URL", None)
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("krsn")), "serve"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail("the server did not start:\n" + (folder / "server.log").read_text())
        time.sleep(0.3)
    try:
        yield {"base_url": base, "accounts": accounts, "data_dir": str(folder)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
