"""The built web UI: its hashed assets, the other files of its folder, and ``index.html`` for
every page of the single-page app (``/indicators?q=…``, ``/alerts/123``).

The folder is looked up on each request, so a UI built while the server runs is served at
once. Paths the API owns never reach it: an unknown ``/api/…`` path stays a problem+json 404.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path
from typing import Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

# Vite puts a content hash in every name under assets/: a changed file gets a new name.
ASSETS_CACHE: Final = "public, max-age=31536000, immutable"
# index.html names the current assets, so a browser revalidates it on every load.
PAGE_CACHE: Final = "no-cache"
RESERVED: Final = ("/api", "/taxii2", "/healthz", "/readyz")
# The build's own types, whatever the host's MIME table says: with nosniff a browser runs
# a module script only when it is served as JavaScript.
MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}


def is_reserved(path: str) -> bool:
    """Whether ``path`` belongs to the API, TAXII or the health checks, never to the UI."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED)


def _segments(path: str) -> list[str] | None:
    """The parts of a URL path, or None when one could step outside the folder or name a
    hidden file (``..``, an empty part, a backslash, a NUL)."""
    trimmed = path.strip("/")
    if not trimmed:
        return []
    parts = trimmed.split("/")
    if any(not part or part.startswith(".") or "\\" in part or "\x00" in part for part in parts):
        return None
    return parts


def _regular_file(root: Path, parts: list[str]) -> tuple[Path, os.stat_result] | None:
    """The file ``parts`` names inside ``root`` after resolving links, if it is a regular
    file there; a link that leads out of ``root`` names nothing."""
    try:
        base = root.resolve()
        found = base.joinpath(*parts).resolve()
        if not found.is_relative_to(base):
            return None
        status = found.stat()
    except (OSError, ValueError):
        return None
    return (found, status) if stat.S_ISREG(status.st_mode) else None


def _file_response(
    file: tuple[Path, os.stat_result], cache_control: str, headers: Headers
) -> Response:
    path, status = file
    media_type = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    response = FileResponse(
        path,
        stat_result=status,
        media_type=media_type or "application/octet-stream",
        headers={"Cache-Control": cache_control},
    )
    wanted = headers.get("if-none-match")
    etag = response.headers["etag"]
    if wanted and etag in [tag.strip().removeprefix("W/") for tag in wanted.split(",")]:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})
    return response


def ui_response(root: Path, path: str, headers: Headers) -> Response | None:
    """What the built UI in ``root`` answers for a GET of ``path``: a file, index.html for
    a page route, or None (not built, no such file, or a path that tries to leave ``root``)."""
    index = _regular_file(root, ["index.html"])
    if index is None:
        return None
    parts = _segments(path)
    if parts is None:
        return None
    if not parts:
        return _file_response(index, PAGE_CACHE, headers)
    in_assets = parts[0] == "assets"
    file = _regular_file(root, parts)
    if file is not None:
        return _file_response(file, ASSETS_CACHE if in_assets else PAGE_CACHE, headers)
    if in_assets or (len(parts) == 1 and "." in parts[0]):
        # A missing file is a 404, never the page: a stale script or icon must not get HTML
        # back. Deeper paths are pages even with a dot (/indicators/evil.example.org).
        return None
    return _file_response(index, PAGE_CACHE, headers)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class PageRoute(Route):
    """Matches a GET or HEAD of any path outside the API, and nothing else, so other
    methods and the API's unknown paths keep their 404 and 405 answers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or is_reserved(_route_path(scope))
        ):
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.endpoint, "path_params": {}}


def page_route(placeholder: str) -> PageRoute:
    """The route that serves the UI folder of the app's settings; while no UI is built,
    ``/`` shows ``placeholder`` and other paths are not found."""

    def page(request: Request) -> Response:
        path = _route_path(request.scope)
        root = request.app.state.settings.resolved_ui_dir()
        answer = ui_response(root, path, request.headers)
        if answer is not None:
            return answer
        if path == "/" and _regular_file(root, ["index.html"]) is None:
            return HTMLResponse(placeholder, headers={"Cache-Control": PAGE_CACHE})
        raise HTTPException(status_code=404)

    return PageRoute("/{path:path}", endpoint=page, methods=["GET"], include_in_schema=False)
