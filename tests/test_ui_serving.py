"""The built web UI over HTTP: hashed assets cached for a year, index.html for every page
route, the API's 404s untouched, no way out of the UI folder, and a strict CSP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

INDEX = "<!doctype html><html><head><script type=module src=/assets/index-3f9a2c1b.js>"
INDEX += "</script></head><body><div id=root></div></body></html>"
SCRIPT = "console.log('krsn');"
SECRET = "the contents of a file beside the UI folder"


@dataclass
class Site:
    client: httpx.Client
    dist: Path
    port: int

    def raw_get(self, target: str) -> tuple[int, str]:
        """GET ``target`` exactly as written: httpx would remove dot segments first."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(
                f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
            )
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), body.decode("utf-8", "replace")


def build_dist(root: Path) -> Path:
    """A tiny Vite-like build: index.html, a favicon, hashed assets, a secret beside it."""
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (dist / "assets" / "index-3f9a2c1b.js").write_text(SCRIPT)
    (dist / "assets" / "index-77aa01.css").write_text("body{margin:0}")
    (root / "secret.txt").write_text(SECRET)
    return dist


@pytest.fixture
def site(live_server, sqlite_db, tmp_path: Path) -> Iterator[Site]:
    dist = build_dist(tmp_path)
    live_server.use(sqlite_db, ui_dir=dist)
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        yield Site(client, dist, live_server.port)


@pytest.fixture
def unbuilt(live_server, sqlite_db, tmp_path: Path) -> Iterator[httpx.Client]:
    live_server.use(sqlite_db, ui_dir=tmp_path / "no-build-here")
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        yield client


def test_hashed_assets_are_cached_for_a_year_as_immutable(site):
    response = site.client.get("/assets/index-3f9a2c1b.js")
    assert response.status_code == 200
    assert response.text == SCRIPT
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    css = site.client.get("/assets/index-77aa01.css")
    assert css.headers["content-type"].startswith("text/css")


def test_top_level_files_are_served_as_files_and_revalidated(site):
    response = site.client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-cache"
    again = site.client.get("/favicon.svg", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/indicators?q=evil.example.org",
        "/indicators/evil.example.org",
        "/alerts/123",
        "/alerts/123/",
        "/admin/users",
    ],
)
def test_page_routes_get_index_html_revalidated_on_every_load(site, path):
    response = site.client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


def test_a_ui_built_while_the_server_runs_is_served_at_once(site):
    (site.dist / "index.html").write_text("<!doctype html><title>rebuilt</title>")
    assert "rebuilt" in site.client.get("/alerts").text


@pytest.mark.parametrize("path", ["/assets/index-00000000.js", "/assets", "/missing.png"])
def test_a_missing_file_is_a_404_never_the_page(site, path):
    response = site.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api/v1", "/api/other", "/healthz/x", "/readyz/x"]
)
def test_unknown_api_paths_stay_problem_json_404s(site, path):
    response = site.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_taxii_paths_never_get_the_page(site):
    response = site.client.get("/taxii2/no-such-root/")
    assert response.status_code in (401, 404, 406)
    assert INDEX not in response.text


def test_other_methods_keep_their_404_and_405(site):
    assert site.client.post("/alerts/123", json={}).status_code == 404
    assert site.client.delete("/favicon.svg").status_code == 404
    # A known API path with another method is still "method not allowed".
    assert site.client.delete("/healthz").status_code == 405


def test_head_of_a_page_has_its_headers_and_no_body(site):
    response = site.client.head("/alerts/7")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == b""


@pytest.mark.parametrize(
    "target",
    [
        "/assets/../../secret.txt",
        "/assets/../../../etc/passwd",
        "/../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2E%2E/%2E%2E/etc/passwd",
        "/..%5csecret.txt",
        "/assets/..%5c..%5csecret.txt",
        "//secret.txt",
        "/assets//../../secret.txt",
        "/assets/%00.js",
        "/%252e%252e/secret.txt",
    ],
)
def test_no_path_leaves_the_ui_folder(site, target):
    status, body = site.raw_get(target)
    # Refused, or (a doubly encoded name is just a page address) the page itself.
    assert status in (400, 404) or (status == 200 and body == INDEX), (target, status)
    assert SECRET not in body
    assert "root:" not in body


def test_links_and_hidden_files_in_the_folder_are_not_served(site, tmp_path):
    (site.dist / "assets" / "escape.js").symlink_to(tmp_path / "secret.txt")
    (site.dist / ".env").write_text(SECRET)
    for path in ("/assets/escape.js", "/.env"):
        response = site.client.get(path)
        assert response.status_code == 404, path
        assert SECRET not in response.text


def test_without_a_build_the_root_page_says_how_to_build_it(unbuilt):
    response = unbuilt.get("/")
    assert response.status_code == 200
    assert "make ui" in response.text
    assert "/api/v1/openapi.json" in response.text
    assert unbuilt.get("/alerts/123").status_code == 404
    assert unbuilt.get("/api/v1/nothing").status_code == 404


@pytest.mark.parametrize("path", ["/", "/alerts/123", "/assets/index-3f9a2c1b.js"])
def test_the_content_security_policy_stays_strict(site, path):
    policy = site.client.get(path).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["worker-src"] == "'self'"
    assert directives["font-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_the_placeholder_page_has_the_same_policy(unbuilt):
    policy = unbuilt.get("/").headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "unsafe-inline" not in policy
