"""Pulling a remote TAXII 2.1 collection into the platform, page by page, through the STIX
import (``krsn taxii pull``).

Each page is fetched by :func:`krsn.feeds.fetch.fetch`, under the egress rules, size cap and
timeouts every outbound download obeys (a URL may not reach private addresses unless
``KRSN_EGRESS_ALLOW_PRIVATE`` or ``KRSN_EGRESS_ALLOWED_HOSTS`` say so), and imported with
:func:`krsn.sharing.stix.service.import_bundle` in a transaction of its own: a pull cut short
keeps every page before the failure. Pages follow the server's ``next``; a server that gives
none is asked again from just before the page's ``X-TAXII-Date-Added-Last``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, BinaryIO, cast

import httpx

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.fetch import fetch
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.reading import load_json
from krsn.feeds.sources import ensure_source
from krsn.feeds.taxii_client import DATE_ADDED_LAST, just_before
from krsn.identity.audit import Actor
from krsn.indicators.warninglists import default_index
from krsn.sharing.stix.schemas import StixImportSummary
from krsn.sharing.stix.service import import_bundle
from krsn.sharing.taxii.schemas import PullSummary
from krsn.sharing.taxii.service import TAXII_MEDIA_TYPE, parse_time

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
MAX_PAGES = 100_000


def collection_url(api_root: str, collection_id: str) -> str:
    """The URL of a collection of the API root at ``api_root``."""
    parsed = httpx.URL(api_root)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid("url", f"give the API root's http(s) URL, not {api_root!r}")
    if not collection_id.strip() or "/" in collection_id:
        raise Invalid("collection", "give the collection's id, as 'krsn taxii collections' lists")
    path = parsed.path.rstrip("/")
    return str(parsed.copy_with(path=f"{path}/collections/{collection_id.strip()}/"))


def _fetch_options(settings: Settings) -> dict[str, Any]:
    return {
        "timeout": settings.feed_fetch_timeout_seconds,
        "max_bytes": settings.feed_fetch_max_bytes,
        "retries": settings.feed_fetch_retries,
        "allow_private": settings.egress_allow_private,
        "allowed_hosts": frozenset(
            h.strip() for h in settings.egress_allowed_hosts.split(",") if h.strip()
        ),
    }


def pull_collection(
    database: Database,
    *,
    settings: Settings,
    api_root: str,
    collection_id: str,
    actor: Actor,
    api_key: str | None = None,
    basic: tuple[str, str] | None = None,
    added_after: str | None = None,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
) -> PullSummary:
    """Read every object of the remote collection (added after ``added_after``) into the
    store; ``on_page`` gets the number of objects read so far."""
    if added_after is not None:
        parse_time(added_after, "added_after")
    url = collection_url(api_root, collection_id)
    headers = {"Accept": TAXII_MEDIA_TYPE}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    summary = PullSummary(url=url, collection=collection_id, added_after=added_after)
    started = time.perf_counter()
    params: dict[str, str] = {"limit": str(page_size)}
    if added_after:
        params["added_after"] = added_after
    options = _fetch_options(settings)
    suppressor = default_index(settings)
    source_name = f"TAXII: {httpx.URL(url).host} {collection_id}"[:255]
    with database.transaction() as session:
        source = ensure_source(session, actor=actor, name=source_name)
    previous_last: str | None = None
    while summary.pages < MAX_PAGES:
        with fetch(
            f"{url}objects/", headers=headers, auth=basic, params=params, label=url, **options
        ) as page:
            if page.body is None:
                raise Invalid("url", "the TAXII server answered 304 to a request for objects")
            try:
                envelope = load_json(cast(BinaryIO, page.body), settings.feed_fetch_max_bytes)
            except FormatError as exc:
                raise Invalid(
                    "url", f"the server's answer is not a TAXII envelope: {exc}"
                ) from None
            last = page.headers.get(DATE_ADDED_LAST)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
            raise Invalid("url", "the server did not answer a TAXII envelope; check the URL")
        objects: list[Any] = envelope.get("objects") or []
        summary.pages += 1
        if objects:
            with database.transaction() as session:
                imported = import_bundle(
                    session,
                    bundle={"type": "bundle", "objects": objects},
                    source=source,
                    actor=actor,
                    suppressor=suppressor,
                )
            _add(summary, imported)
            summary.objects += len(objects)
        if last:
            summary.date_added_last = last
        if on_page is not None:
            on_page(summary.objects)
        if envelope.get("more") is not True or not objects:
            break
        token = envelope.get("next")
        if isinstance(token, str) and token:
            params = {**params, "next": token}
        elif last and last != previous_last:
            params = {"limit": str(page_size), "added_after": just_before(last)}
            previous_last = last
        else:
            log.warning("taxii pull %s: more objects follow but the server gives no way on", url)
            break
    summary.duration_s = round(time.perf_counter() - started, 3)
    log.info(
        "taxii pull %s: %d objects in %d pages (%.1f s)",
        url,
        summary.objects,
        summary.pages,
        summary.duration_s,
    )
    return summary


def _add(summary: PullSummary, imported: StixImportSummary) -> None:
    for kind, counts in imported.types.items():
        summary.types.setdefault(kind, type(counts)()).add(counts)
    summary.total.add(imported.total)
    mine, theirs = summary.indicators, imported.indicators
    for name in ("values", "new", "updated", "unchanged", "rejected", "suppressed", "patterns"):
        setattr(mine, name, getattr(mine, name) + getattr(theirs, name))
    summary.rejected += imported.total.rejected
    for error in imported.errors[:10]:
        log.warning("taxii pull %s: object %s refused: %s", summary.url, error.id, error.reason)
