"""``custom``: any HTTP/JSON endpoint, or an uploaded CSV/JSON/JSON-lines file, read through a
field mapping.

The endpoint is asked with the configured method, headers, query and JSON body; the source's
credentials add ``Authorization: Bearer <token>`` (``token``), basic auth (``username`` /
``password``) or any headers (``headers``). The rows are at ``items_path`` (a dotted path; empty
for a top-level list). Pages follow a next link (``next_path`` in the body, else the ``Link``
header) or a page number parameter. ``mapping`` names, by dotted path in a row, the item's
text, title, url, published time and id, and the entities: ``{"entities": {"domain":
"host.name", "ip_address": ["src_ip", "dst_ip"]}}``.

Uploaded files go through :meth:`CustomCollector.records_from_file` with the same mapping, or
ride in the config as ``upload`` (base64) for a one-shot import.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from krsn.errors import Invalid
from krsn.osint.collectors.base import Collected, CollectorContext, Observed
from krsn.osint.collectors.http import CollectorError, fetch
from krsn.osint.collectors.observe import dotted, observe, parse_time, unique
from krsn.osint.collectors.public_db import rows_of
from krsn.osint.models import CollectorType, EntityType

__all__ = ["Config", "CustomCollector", "CustomConfig", "Mapping", "Upload"]

log = logging.getLogger(__name__)


class Mapping(BaseModel):
    """Which dotted path of a row holds each item field and each entity type."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    text: str | list[str] | None = None
    title: str | None = None
    url: str | None = None
    published_at: str | None = None
    entities: dict[EntityType, str | list[str]] = Field(default_factory=dict)


class Upload(BaseModel):
    """A file carried in the config: its name and base64 content."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_base64: str
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"

    def data(self) -> bytes:
        """The file's bytes; Invalid when the content is not base64."""
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Invalid("config.upload.content_base64", f"not base64: {exc}") from exc


class CustomConfig(BaseModel):
    """A ``custom`` collection's config."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = Field(None, description="The JSON endpoint.")
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    body: Any = Field(None, description="JSON body of a POST.")
    items_path: str = Field("", description="Dotted path to the list of rows; empty for the top.")
    pagination: Literal["none", "next_link", "page"] = "none"
    next_path: str | None = Field(
        None, description="Dotted path to the next page's URL; the Link header when unset."
    )
    page_param: str = "page"
    page_start: int = 1
    max_pages: int = Field(10, ge=1, le=10_000)
    mapping: Mapping = Field(default_factory=Mapping)
    item_type: str = Field("record", min_length=1, max_length=100)
    max_items: int = Field(1_000, ge=1, le=1_000_000)
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    upload: Upload | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> CustomConfig:
        if (self.url is None) == (self.upload is None):
            raise ValueError("give exactly one of url and upload")
        return self


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return []
    return [str(value)] if str(value).strip() else []


def _paths(spec: str | list[str] | None) -> list[str]:
    if spec is None:
        return []
    return [spec] if isinstance(spec, str) else list(spec)


def record_of(row: Any, *, mapping: Mapping, item_type: str, origin: str) -> Collected:
    """One row as an item, through the mapping."""
    entities: list[Observed | None] = []
    for entity_type, spec in mapping.entities.items():
        for path in _paths(spec):
            for value in _strings(dotted(row, path)):
                entities.append(observe(entity_type, value, confidence=0.9, field=path))
    text_parts = [s for path in _paths(mapping.text) for s in _strings(dotted(row, path))]
    title = next(iter(_strings(dotted(row, mapping.title))), None) if mapping.title else None
    url = next(iter(_strings(dotted(row, mapping.url))), None) if mapping.url else None
    ident = next(iter(_strings(dotted(row, mapping.id))), None) if mapping.id else None
    published = dotted(row, mapping.published_at) if mapping.published_at else None
    return Collected(
        item_type=item_type,
        raw=row,
        text="\n\n".join(text_parts) or None,
        url=url,
        title=title,
        published_at=parse_time(published),
        entities=unique(entities),
        # With an id, a row edited at the source stays one item.
        hash_basis=f"custom|{origin}|{ident}" if ident is not None else None,
    )


def _next_link(response: httpx.Response, body: Any, config: CustomConfig) -> str | None:
    if config.next_path:
        found = dotted(body, config.next_path)
        return str(found) if found else None
    link = response.links.get("next", {}).get("url")
    return str(response.url.join(link)) if link else None


class CustomCollector:
    """Rows of any JSON endpoint or uploaded file, mapped to items and entities."""

    collector_type: ClassVar[CollectorType] = CollectorType.CUSTOM
    Config: ClassVar[type[BaseModel]] = CustomConfig
    description: ClassVar[str] = (
        "Any HTTP/JSON endpoint (method, headers, credentials, pagination) or uploaded "
        "CSV/JSON/JSON-lines file, read through a field mapping of dotted paths."
    )

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield one item per row, up to ``max_items``."""
        assert isinstance(config, CustomConfig)
        if config.upload is not None:
            yield from self.records_from_file(
                config.upload.data(),
                filename=config.upload.filename,
                config=config,
                context=context,
                file_format=config.upload.format,
            )
            return
        yield from self._endpoint(config, context)

    def records_from_file(
        self,
        data: bytes,
        *,
        filename: str,
        config: CustomConfig,
        context: CollectorContext,
        file_format: Literal["auto", "csv", "json", "jsonl"] = "auto",
    ) -> Iterator[Collected]:
        """The items of an uploaded CSV, JSON or JSON-lines file, through the mapping."""
        rows = list(
            rows_of(data, name=filename, file_format=file_format, items_path=config.items_path)
        )[: config.max_items]
        context.progress(0, len(rows))
        for number, row in enumerate(rows, start=1):
            if number % 200 == 0:
                context.check()
                context.progress(number, len(rows))
            record = record_of(
                row, mapping=config.mapping, item_type=config.item_type, origin=filename
            )
            record.file_info = {"filename": filename, "size": len(data)}
            yield record
        context.progress(len(rows), len(rows))

    def _endpoint(self, config: CustomConfig, context: CollectorContext) -> Iterator[Collected]:
        assert config.url is not None
        headers = dict(config.headers)
        auth: tuple[str, str] | None = None
        credentials = context.credentials
        if credentials.get("token"):
            headers["Authorization"] = f"Bearer {credentials['token']}"
        if credentials.get("username") and credentials.get("password"):
            auth = (str(credentials["username"]), str(credentials["password"]))
        headers.update({str(k): str(v) for k, v in (credentials.get("headers") or {}).items()})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        url: str | None = str(config.url)
        read = 0
        total = config.max_items
        context.progress(0, total)
        for page_number in range(config.max_pages):
            if url is None or read >= config.max_items:
                break
            context.check()
            params: dict[str, Any] = (
                dict(config.params) if page_number == 0 or config.pagination == "page" else {}
            )
            if config.pagination == "page":
                params[config.page_param] = config.page_start + page_number
            response = fetch(
                context.client,
                url,
                method=config.method,
                params=params or None,
                headers=headers,
                json_body=config.body if config.method == "POST" else None,
                max_bytes=config.max_bytes,
            )
            try:
                body = response.json()
            except ValueError as exc:
                raise CollectorError(f"{config.url} did not answer JSON: {exc}") from exc
            rows = dotted(body, config.items_path) if config.items_path else body
            if not isinstance(rows, list):
                raise CollectorError(
                    f"{config.url}: no list of rows at {config.items_path or 'the top'} "
                    f"(found {type(rows).__name__}); set items_path"
                )
            for row in self._take(rows, config.max_items - read):
                yield record_of(
                    row, mapping=config.mapping, item_type=config.item_type, origin=str(config.url)
                )
                read += 1
                context.progress(read, total)
            if not rows:
                break
            if config.pagination == "next_link":
                url = _next_link(response, body, config)
            elif config.pagination == "none":
                url = None
        context.progress(read, read)

    @staticmethod
    def _take(rows: Iterable[Any], limit: int) -> Iterator[Any]:
        for number, row in enumerate(rows):
            if number >= limit:
                return
            yield row


Config = CustomConfig
"""The module's config model, by the name every collector module exports."""
