"""Polling a TAXII 2.1 collection as a feed: its objects, page by page, into the pipeline.

A ``taxii`` feed's URL is the collection's (``https://host/api1/collections/<id>/``); a run
asks for ``objects/`` with ``Accept: application/taxii+json;version=2.1``:

- ``added_after`` is the ``X-TAXII-Date-Added-Last`` of the previous successful run (kept in
  the feed's statistics as ``taxii_added_after``, as a MISP feed keeps ``misp_since``), so a run
  reads only what the server added since; the first run reads everything, or from the
  ``added_after`` rule.
- ``limit`` asks for pages of that many objects; while the envelope says ``more``, the next
  page is asked for with its ``next`` token (or, from a server that gives none, with
  ``added_after`` moved to the page's ``X-TAXII-Date-Added-Last``), up to ``max_pages``.
  ``added_after`` is exclusive and objects may share a ``date_added``, so whenever a poll
  resumes from a date while more objects may follow (a server without ``next``, a run cut
  at ``max_pages``) it resumes a microsecond before it: an object read twice is merged,
  one skipped would be lost.
- Each page's envelope (``{"more": …, "next": …, "objects": [...]}``) is read by the STIX
  format as it stands (the format takes an envelope as it takes a bundle), so the rows, their
  tags, confidence and TLP are the same as for a STIX file of the same objects.

Every page is downloaded by :func:`krsn.feeds.fetch.fetch`, under the same egress rules, size
cap, timeouts, retries and source credentials as any other feed. We do not use the
taxii2-client library: it fetches with ``requests``, which would bypass the egress guard (a
collection URL could then reach private addresses) and our size and time limits.

Known limit: the STIX format links an indicator to its malware and marking only within one
document, so an ``indicates`` relationship on another page than its indicator is not applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any, BinaryIO, Final, cast

import httpx
from pydantic import Field, field_validator

from krsn.db import Database
from krsn.errors import Invalid
from krsn.feeds.fetch import fetch
from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import load_json, parse_datetime, validate
from krsn.feeds.formats.stix_format import StixFormat, StixRules
from krsn.feeds.pipeline import FeedRef, SourceRef, Suppressor, ingest

__all__ = [
    "STATE_KEY",
    "TAXII_MEDIA_TYPE",
    "TaxiiRules",
    "TaxiiRun",
    "check_collection_url",
    "objects_url",
    "run_collection",
    "validate_rules",
]

log = logging.getLogger(__name__)

TAXII_MEDIA_TYPE: Final = "application/taxii+json;version=2.1"
STATE_KEY: Final = "taxii_added_after"
"""Where the feed's statistics keep the ``added_after`` of the next run."""
DATE_ADDED_LAST: Final = "X-TAXII-Date-Added-Last"

_STIX_RULES: Final = frozenset(StixRules.model_fields)


class TaxiiRules(StixRules):
    """Rules of a ``taxii`` feed: the STIX format's, and how to page through the collection."""

    limit: int = Field(1000, ge=1, le=10_000)
    """Objects asked for per page; the server may send fewer."""
    max_pages: int = Field(1000, ge=1, le=100_000)
    """Pages read in one run; the next run goes on from where this one stopped."""
    added_after: str | None = None
    """Where the first run starts (an RFC 3339 time); later runs resume on their own."""

    @field_validator("added_after")
    @classmethod
    def _a_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_datetime(value)
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"not a time, as in 2024-01-31T00:00:00Z: {exc}") from None
        return value


def just_before(timestamp: str) -> str:
    """The TAXII timestamp one microsecond earlier (``added_after`` is exclusive)."""
    moment = parse_datetime(timestamp).astimezone(UTC) - timedelta(microseconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def validate_rules(rules: Mapping[str, Any] | None) -> dict[str, Any]:
    """The rules with defaults filled in; ``Invalid`` naming a bad one."""
    return validate(TaxiiRules, rules).model_dump()


def check_collection_url(url: str) -> str:
    """A collection's URL, as in https://host/api1/collections/<id>/; ``Invalid`` otherwise."""
    steps = [step for step in httpx.URL(url).path.split("/") if step]
    if steps and steps[-1] == "objects":
        steps = steps[:-1]
    if len(steps) < 2 or steps[-2] != "collections":
        raise Invalid(
            "url",
            "a TAXII feed's URL is its collection's, as in "
            "https://taxii.example.org/api1/collections/<collection id>/",
        )
    return url


def objects_url(collection_url: str) -> str:
    """The collection's ``objects/`` endpoint (a URL that already ends in it stays)."""
    parsed = httpx.URL(collection_url)
    path = parsed.path.rstrip("/")
    if not path.endswith("/objects"):
        path += "/objects"
    return str(parsed.copy_with(path=path + "/"))


@dataclass(slots=True)
class TaxiiRun:
    """What a poll did: the run record's fields, and the state the next run starts from."""

    run: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Poll:
    """The pages of one run, read lazily as the pipeline asks for rows."""

    url: str
    rules: TaxiiRules
    added_after: str | None
    fetch_options: Mapping[str, Any]
    label: str
    pages: int = 0
    objects: int = 0
    fetched_bytes: int = 0
    attempts: int = 0
    date_added_last: str | None = None
    stopped_early: bool = False

    @property
    def resume_from(self) -> str | None:
        """Where the next run starts: after everything read, or just before the last date
        read when objects of that date may be left."""
        if self.date_added_last is None:
            return None
        return just_before(self.date_added_last) if self.stopped_early else self.date_added_last

    def rows(self) -> Iterator[ParsedRow | ParseError]:
        parser = StixFormat()
        stix_rules = self.rules.model_dump(include=set(_STIX_RULES))
        base = {"limit": str(self.rules.limit)}
        params = dict(base)
        if self.added_after:
            params["added_after"] = self.added_after
        options = dict(self.fetch_options)
        headers = {**dict(options.pop("headers", None) or {}), "Accept": TAXII_MEDIA_TYPE}
        credential_params = dict(options.pop("params", None) or {})
        previous_last: str | None = None
        while True:
            if self.pages >= self.rules.max_pages:
                self.stopped_early = True
                log.info(
                    "feed %s: stopped after %d pages (max_pages); the next run goes on",
                    self.label,
                    self.pages,
                    extra={"feed": self.label},
                )
                return
            with fetch(
                self.url, headers=headers, params={**credential_params, **params}, **options
            ) as page:
                self.pages += 1
                self.fetched_bytes += page.size
                self.attempts += page.attempts
                if page.body is None:
                    raise FormatError("the TAXII server answered 304 to a request for objects")
                body = cast(BinaryIO, page.body)
                envelope = load_json(body, self.rules.max_bytes)
                if not isinstance(envelope, dict):
                    raise FormatError(
                        "the TAXII server did not answer an envelope ({'objects': [...]}); "
                        "check that the URL is a TAXII 2.1 collection's"
                    )
                objects = envelope.get("objects") or []
                if not isinstance(objects, list):
                    raise FormatError("the TAXII envelope's 'objects' is not a list")
                last = page.headers.get(DATE_ADDED_LAST)
                if objects:
                    body.seek(0)
                    offset = self.objects
                    for item in parser.parse(body, stix_rules):
                        # Number objects across the whole poll, not within each page.
                        item.line += offset
                        yield item
                    self.objects += len(objects)
                    if last:
                        self.date_added_last = last
            if envelope.get("more") is not True or not objects:
                return
            token = envelope.get("next")
            if isinstance(token, str) and token:
                params = {**params, "next": token}
            elif last and last != previous_last:
                params = {**base, "added_after": just_before(last)}
                previous_last = last
            else:
                # Asking again for the same page would loop; what is left waits for next run.
                self.stopped_early = True
                log.warning(
                    "feed %s: the server says more objects follow but gives no way to ask "
                    "for them (no 'next', no newer %s)",
                    self.label,
                    DATE_ADDED_LAST,
                    extra={"feed": self.label},
                )
                return


def run_collection(
    database: Database,
    *,
    url: str,
    rules: Mapping[str, Any],
    state: Mapping[str, Any],
    fetch_options: Mapping[str, Any],
    source: SourceRef,
    feed: FeedRef,
    suppressor: Suppressor | None,
    run_id: str,
    label: str,
    on_progress: Callable[[int], None] | None = None,
) -> TaxiiRun:
    """Poll the collection at ``url`` from where ``state`` says the last run ended, ingest
    its objects, and say where the next run starts.

    ``fetch_options`` are :func:`krsn.feeds.fetch.fetch`'s keyword arguments (limits,
    egress, credentials). Raises :class:`krsn.feeds.fetch.FetchError`, ``FormatError`` or
    ``Invalid``, as any feed run does, after ingesting the pages read before the failure.
    """
    checked = validate(TaxiiRules, rules)
    added_after = state.get(STATE_KEY) or checked.added_after
    poll = _Poll(
        url=objects_url(check_collection_url(url)),
        rules=checked,
        added_after=added_after,
        fetch_options=fetch_options,
        label=label,
    )
    started = time.perf_counter()
    summary = ingest(
        database,
        rows=poll.rows(),
        source=source,
        feed=feed,
        suppressor=suppressor,
        on_progress=on_progress,
        run_id=run_id,
    )
    log.info(
        "feed %s: TAXII poll read %d objects in %d pages since %s (%.1f s)",
        label,
        poll.objects,
        poll.pages,
        added_after or "the start",
        time.perf_counter() - started,
        extra={"feed": label},
    )
    result = TaxiiRun()
    result.run.update(
        status="ok",
        fetched_bytes=poll.fetched_bytes,
        attempts=poll.attempts,
        **summary.as_dict(),
    )
    result.run["taxii"] = {
        "pages": poll.pages,
        "objects": poll.objects,
        "added_after": added_after,
        "date_added_last": poll.date_added_last,
        "more": poll.stopped_early,
    }
    if poll.resume_from:
        result.state[STATE_KEY] = poll.resume_from
    return result
