"""Where MISP events come from: a JSON file, a feed folder or URL, or an instance's API.

:func:`open_events` looks at what it is given and answers :class:`Documents`: an iterable of
loaded JSON documents (an event, a list of events, a ``{"response": …}`` answer), each with a
label for progress and errors, and how many to expect when that is known.

- A file is read as event JSON; a ``manifest.json`` is read as the feed it lists.
- A folder with a ``manifest.json`` is a MISP feed (``<uuid>.json`` beside it); a folder
  without one is read file by file (``*.json``).
- A URL with an API key is a MISP instance, searched page by page
  (:mod:`krsn.sharing.misp.api_client`); without a key it is a feed (its ``manifest.json``,
  or a URL ending in ``/``) or one event file. Downloads go through
  :func:`krsn.feeds.fetch.fetch`: time, size and egress limits as for any feed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

from krsn.config import Settings
from krsn.errors import Invalid
from krsn.feeds.fetch import fetch
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.misp_format import is_manifest
from krsn.feeds.formats.reading import load_json
from krsn.sharing.misp.api_client import DEFAULT_PAGE_SIZE, MispApi

_UUID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


@dataclass(slots=True)
class Document:
    """One loaded JSON document and what to call it in progress and errors."""

    label: str
    content: Any


@dataclass(slots=True)
class Documents:
    """The documents of one import target, read lazily."""

    kind: str
    """``file``, ``folder``, ``feed`` or ``api``."""
    target: str
    total: int | None
    """Documents to expect (events of a feed, files of a folder); None for API pages."""
    read: Callable[[], Iterator[Document]]

    def __iter__(self) -> Iterator[Document]:
        return self.read()


def _limits(settings: Settings) -> dict[str, Any]:
    return {
        "timeout": settings.feed_fetch_timeout_seconds,
        "max_bytes": settings.feed_fetch_max_bytes,
        "allow_private": settings.egress_allow_private,
        "allowed_hosts": frozenset(
            h.strip() for h in settings.egress_allowed_hosts.split(",") if h.strip()
        ),
    }


def _load(stream: BinaryIO, label: str, max_bytes: int) -> Any:
    try:
        return load_json(stream, max_bytes)
    except FormatError as exc:
        raise Invalid("target", f"{label}: {exc}") from None


def _manifest_uuids(manifest: Any) -> list[str]:
    # Only uuid keys name files: a hostile manifest must not point anywhere else.
    return [key.lower() for key in manifest if _UUID.fullmatch(key)]


def _read_file(path: Path, max_bytes: int) -> Any:
    try:
        with path.open("rb") as stream:
            return _load(stream, path.name, max_bytes)
    except OSError as exc:
        raise Invalid("target", f"cannot read {path}: {exc.strerror or exc}") from None


def _folder_feed(folder: Path, manifest: Any, max_bytes: int) -> Documents:
    uuids = _manifest_uuids(manifest)

    def read() -> Iterator[Document]:
        for uuid in uuids:
            yield Document(uuid, _read_file(folder / f"{uuid}.json", max_bytes))

    return Documents("feed", str(folder), len(uuids), read)


def _url_documents(url: str, settings: Settings) -> Documents:
    limits = _limits(settings)
    target = url + "manifest.json" if url.endswith("/") else url
    with fetch(target, **limits, retries=settings.feed_fetch_retries) as result:
        assert result.body is not None
        document = _load(cast(BinaryIO, result.body), target, limits["max_bytes"])
    if not is_manifest(document):
        return Documents("file", url, 1, lambda: iter([Document(target, document)]))
    base = target.rsplit("/", 1)[0]
    uuids = _manifest_uuids(document)

    def read() -> Iterator[Document]:
        for uuid in uuids:
            with fetch(f"{base}/{uuid}.json", **limits, retries=settings.feed_fetch_retries) as got:
                assert got.body is not None
                yield Document(uuid, _load(cast(BinaryIO, got.body), uuid, limits["max_bytes"]))

    return Documents("feed", target, len(uuids), read)


def _api_documents(
    url: str,
    api_key: str,
    settings: Settings,
    filters: Mapping[str, Any] | None,
    page_size: int,
) -> Documents:
    limits = _limits(settings)
    api = MispApi(url, api_key=api_key, **limits)

    def read() -> Iterator[Document]:
        for page, events in api.search(filters, page_size=page_size):
            yield Document(f"page {page}", {"response": events})

    return Documents("api", api.base_url, None, read)


def open_events(
    target: str | Path,
    *,
    settings: Settings,
    api_key: str | None = None,
    filters: Mapping[str, Any] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Documents:
    """The MISP documents a file, folder, feed URL or instance (with ``api_key``) holds."""
    text = str(target)
    if text.lower().startswith(("http://", "https://")):
        if api_key:
            return _api_documents(text, api_key, settings, filters, page_size)
        return _url_documents(text, settings)
    if api_key:
        raise Invalid("api_key", "an API key goes with a MISP instance's URL, not a file")
    path = Path(text)
    max_bytes = settings.feed_fetch_max_bytes
    if path.is_dir():
        manifest_path = path / "manifest.json"
        if manifest_path.is_file():
            return _folder_feed(path, _read_file(manifest_path, max_bytes), max_bytes)
        files = sorted(p for p in path.glob("*.json") if p.is_file())
        if not files:
            raise Invalid("target", f"{path} holds no manifest.json and no .json files")

        def read_files() -> Iterator[Document]:
            for file in files:
                yield Document(file.name, _read_file(file, max_bytes))

        return Documents("folder", str(path), len(files), read_files)
    if path.is_file():
        document = _read_file(path, max_bytes)
        if is_manifest(document):
            return _folder_feed(path.parent, document, max_bytes)
        return Documents("file", str(path), 1, lambda: iter([Document(path.name, document)]))
    raise Invalid("target", f"{text} is not a file, a folder or an http(s) URL")
