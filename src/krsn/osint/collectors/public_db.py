"""``public_db``: sanctions lists and company registers in CSV, JSON or JSON lines.

Two OpenSanctions shapes are read as they come: the ``targets.simple.csv`` table (columns
``id, schema, name, aliases, birth_date, countries, addresses, identifiers, sanctions, phones,
emails, dataset, first_seen, last_seen, last_change``, multiple values joined by ``;``) and
FollowTheMoney entity JSON lines (``{"id", "schema", "properties": {"name": [...]}, "datasets":
[...]}``), whose ``Ownership``, ``Directorship``, ``Employment`` and ``Family`` links become
relations. Any other list is read through ``columns``: which column (or dotted JSON path) holds
the name, aliases, countries...

Each row becomes a person or organization entity with ``{"sanctioned": true, "datasets":
[...]}`` when the list says so (the ``sanctions`` column, the FtM ``sanction`` topic, or
``sanctioned: true`` for a list that is all sanctions). The list's bookkeeping dates are left
out of the item hash, so re-importing tomorrow's export adds only what changed.

A ``path`` is read only inside the operator's ``KRSN_OSINT_IMPORT_DIR``
(``context.import_dir``): a collection's config comes from users, and must not read the
server's other files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from krsn.errors import Invalid
from krsn.osint.collectors.base import Collected, CollectorContext, Observed, ObservedRelation
from krsn.osint.collectors.http import CollectorError, fetch, json_lines
from krsn.osint.collectors.observe import dotted, observe, parse_time, relation, unique
from krsn.osint.models import CollectorType, EntityType, RelationshipType

__all__ = ["Columns", "Config", "PublicDbCollector", "rows_of"]

log = logging.getLogger(__name__)

Format = Literal["auto", "csv", "json", "jsonl", "ftm"]
_BOOKKEEPING: Final = frozenset({"first_seen", "last_seen", "last_change", "last_changed"})
_FTM_LINKS: Final[dict[str, tuple[str, str, RelationshipType]]] = {
    "Ownership": ("owner", "asset", RelationshipType.OWNS),
    "Directorship": ("director", "organization", RelationshipType.CONTROLS),
    "Employment": ("employee", "employer", RelationshipType.WORKS_FOR),
    "Membership": ("member", "organization", RelationshipType.MEMBER_OF),
    "Family": ("person", "relative", RelationshipType.ASSOCIATED_WITH),
    "Associate": ("person", "associate", RelationshipType.ASSOCIATED_WITH),
}
_TRUE: Final = frozenset({"1", "true", "yes", "y", "t", "x"})


class Columns(BaseModel):
    """Where each field is in a row: a CSV column name or a dotted JSON path."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = "id"
    name: str = "name"
    schema_: str | None = Field("schema", alias="schema")
    aliases: str | None = "aliases"
    countries: str | None = "countries"
    birth_date: str | None = "birth_date"
    addresses: str | None = "addresses"
    identifiers: str | None = "identifiers"
    emails: str | None = "emails"
    phones: str | None = "phones"
    datasets: str | None = "dataset"
    sanctions: str | None = "sanctions"
    sanctioned: str | None = None


class PublicDbConfig(BaseModel):
    """A ``public_db`` collection's config."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl | None = Field(None, description="Where the list is downloaded from.")
    path: str | None = Field(
        None, description="A file inside the server's import folder (KRSN_OSINT_IMPORT_DIR)."
    )
    format: Format = Field("auto", description="auto guesses from the name and content.")
    dataset: str | None = Field(None, description="The list's name, added to each entity.")
    sanctioned: bool = Field(False, description="Every row of this list is a sanctions target.")
    entity_type: Literal["person", "organization"] = Field(
        "organization", description="The type of rows whose schema says nothing."
    )
    schemas: dict[str, Literal["person", "organization"]] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "Person": "person",
            "Company": "organization",
            "Organization": "organization",
            "LegalEntity": "organization",
            "PublicBody": "organization",
        },
        description="Row schema (FtM or the schema column) to entity type; others are skipped.",
    )
    columns: Columns = Field(default_factory=Columns)
    separator: str = Field(";", min_length=1, description="Joins several values in one cell.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field delimiter.")
    items_path: str = Field("", description="Dotted path to the rows in a JSON document.")
    max_rows: int = Field(1_000_000, ge=1, description="Rows read, at most.")
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024, description="Largest list read.")

    @model_validator(mode="after")
    def _one_origin(self) -> PublicDbConfig:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of url and path")
        return self


def _values(value: Any, separator: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [v.strip() for v in str(value).split(separator) if v.strip()]


def _sniff(name: str, head: bytes) -> Format:
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".ftm.json")):
        return "jsonl"
    stripped = head.lstrip()
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        first = stripped.split(b"\n", 1)[0]
        try:
            json.loads(first)
        except ValueError:
            return "json"
        return "jsonl" if b"\n{" in stripped else "json"
    return "csv"


def rows_of(
    data: bytes,
    *,
    name: str,
    file_format: Format = "auto",
    items_path: str = "",
    delimiter: str = ",",
    required_column: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of a list's bytes as dicts; CollectorError naming the problem when unreadable."""
    form = file_format if file_format != "auto" else _sniff(name, data[:4096])
    if form in ("jsonl", "ftm"):
        for row in json_lines(data, origin=name):
            if not isinstance(row, dict):
                raise CollectorError(f"{name}: a line holds {type(row).__name__}, not an object")
            yield row
        return
    if form == "json":
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise CollectorError(f"{name} is not JSON: {exc}") from exc
        rows = dotted(document, items_path) if items_path else document
        if isinstance(rows, dict):
            rows = next((v for v in rows.values() if isinstance(v, list)), None)
        if not isinstance(rows, list):
            raise CollectorError(
                f"{name}: no list of rows at {items_path or 'the top'}; set items_path"
            )
        for row in rows:
            if isinstance(row, dict):
                yield row
        return
    text = data.decode("utf-8-sig", "replace")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames or (required_column and required_column not in reader.fieldnames):
        raise CollectorError(
            f"{name}: no {required_column!r} column (columns: "
            f"{', '.join((reader.fieldnames or [])[:12]) or 'none'}); set the column mapping"
        )
    try:
        yield from reader
    except csv.Error as exc:
        raise CollectorError(f"{name} line {reader.line_num} is not CSV: {exc}") from exc


class _Row:
    """One list row read through the configured columns, or as a FtM entity."""

    def __init__(self, row: dict[str, Any], config: PublicDbConfig) -> None:
        self.row = row
        self.ftm = isinstance(row.get("properties"), dict) and "schema" in row
        columns = config.columns
        sep = config.separator
        if self.ftm:
            props = row["properties"]
            self.id = str(row.get("id") or "") or None
            self.schema = str(row.get("schema"))
            names = _values(props.get("name"), sep)
            self.name = str(row.get("caption") or (names[0] if names else "")).strip()
            self.aliases = [n for n in names + _values(props.get("alias"), sep) if n != self.name]
            self.countries = _values(props.get("country") or props.get("nationality"), sep)
            self.birth_date: str | None = next(iter(_values(props.get("birthDate"), sep)), None)
            self.emails = _values(props.get("email"), sep)
            self.phones = _values(props.get("phone"), sep)
            self.datasets = _values(row.get("datasets"), sep)
            topics = _values(props.get("topics"), sep)
            self.sanctioned = config.sanctioned or any(t.startswith("sanction") for t in topics)
        else:

            def get(path: str | None) -> Any:
                return None if path is None else dotted(row, path)

            self.id = str(get(columns.id) or "") or None
            self.schema = str(get(columns.schema_) or "")
            self.name = str(get(columns.name) or "").strip()
            self.aliases = _values(get(columns.aliases), sep)
            self.countries = _values(get(columns.countries), sep)
            self.birth_date = next(iter(_values(get(columns.birth_date), sep)), None)
            self.emails = _values(get(columns.emails), sep)
            self.phones = _values(get(columns.phones), sep)
            self.datasets = _values(get(columns.datasets), sep)
            flag = get(columns.sanctioned)
            self.sanctioned = (
                config.sanctioned
                or bool(_values(get(columns.sanctions), sep))
                or (flag is True or str(flag).strip().lower() in _TRUE)
            )
        if config.dataset and config.dataset not in self.datasets:
            self.datasets.append(config.dataset)

    def entity_type(self, config: PublicDbConfig) -> EntityType | None:
        if not self.schema:
            return EntityType(config.entity_type)
        mapped = config.schemas.get(self.schema)
        return EntityType(mapped) if mapped else None


class PublicDbCollector:
    """Rows of a sanctions list or company register as person and organization entities."""

    collector_type: ClassVar[CollectorType] = CollectorType.PUBLIC_DB
    Config: ClassVar[type[BaseModel]] = PublicDbConfig
    description: ClassVar[str] = (
        "Sanctions lists and company registers in CSV, JSON or JSON lines from a URL or a "
        "file (OpenSanctions targets.simple.csv and FollowTheMoney exports read as they come)."
    )

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield one item per person or organization row, and one per link between them."""
        assert isinstance(config, PublicDbConfig)
        name, data = self._load(config, context)
        context.check()
        yield from self.records(data, name=name, config=config, context=context)

    def records(
        self, data: bytes, *, name: str, config: PublicDbConfig, context: CollectorContext
    ) -> Iterator[Collected]:
        """The items of one list's bytes (a download or an uploaded file)."""
        known: dict[str, Observed] = {}
        links: list[dict[str, Any]] = []
        total = min(config.max_rows, max(1, data.count(b"\n")))
        skipped = 0
        rows = rows_of(
            data,
            name=name,
            file_format=config.format,
            items_path=config.items_path,
            delimiter=config.delimiter,
            required_column=config.columns.name,
        )
        for number, row in enumerate(rows, start=1):
            if number > config.max_rows:
                break
            if number % 200 == 0:
                context.check()
                context.progress(number, total)
            if row.get("schema") in _FTM_LINKS and isinstance(row.get("properties"), dict):
                links.append(row)
                continue
            record = self._record(_Row(row, config), config, name, known)
            if record is None:
                skipped += 1
                continue
            yield record
        for link in links:
            context.check()
            record = self._link(link, known, config, name)
            if record is not None:
                yield record
        if skipped:
            log.info("%s: %d rows skipped (no name, or a schema that is not mapped)", name, skipped)
        context.progress(total, total)

    def _load(self, config: PublicDbConfig, context: CollectorContext) -> tuple[str, bytes]:
        if config.url is not None:
            url = str(config.url)
            response = fetch(context.client, url, max_bytes=config.max_bytes)
            return url.rsplit("/", 1)[-1].split("?", 1)[0] or url, response.content
        assert config.path is not None
        root = context.import_dir
        if not root:
            raise Invalid(
                "config.path",
                "reading server files is off: the operator sets KRSN_OSINT_IMPORT_DIR, "
                "or give a url",
            )
        base = Path(root).resolve()
        target = (base / config.path).resolve()
        if not target.is_relative_to(base):
            raise Invalid("config.path", "the file must be inside the import folder")
        if not target.is_file():
            raise Invalid("config.path", f"no file {config.path} in the import folder")
        if target.stat().st_size > config.max_bytes:
            raise Invalid("config.path", f"{config.path} is larger than max_bytes")
        return target.name, target.read_bytes()

    def _record(
        self, row: _Row, config: PublicDbConfig, origin: str, known: dict[str, Observed]
    ) -> Collected | None:
        entity_type = row.entity_type(config)
        if entity_type is None or not row.name:
            return None
        properties: dict[str, Any] = {"datasets": row.datasets}
        if row.sanctioned:
            properties["sanctioned"] = True
        for key in ("aliases", "countries", "birth_date"):
            value = getattr(row, key)
            if value:
                properties[key] = value
        if row.id:
            properties["list_id"] = row.id
        subject = observe(entity_type, row.name, confidence=0.95, **properties)
        if subject is None:
            return None
        if row.id:
            known[row.id] = subject
        entities: list[Observed | None] = [subject]
        relations: list[ObservedRelation | None] = []
        for mailbox in (observe(EntityType.EMAIL, e) for e in row.emails):
            entities.append(mailbox)
            relations.append(relation(mailbox, subject, RelationshipType.ASSOCIATED_WITH))
        for phone in (observe(EntityType.PHONE, p) for p in row.phones):
            entities.append(phone)
            relations.append(relation(phone, subject, RelationshipType.ASSOCIATED_WITH))
        kind = "sanction_entry" if row.sanctioned else "registry_entry"
        lines = [f"{row.name} ({row.schema or entity_type.value})"]
        if row.aliases:
            lines.append("Also known as: " + "; ".join(row.aliases))
        if row.countries:
            lines.append("Countries: " + ", ".join(row.countries))
        if row.birth_date:
            lines.append(f"Born: {row.birth_date}")
        if row.datasets:
            lines.append("Lists: " + "; ".join(row.datasets))
        stable = {k: v for k, v in row.row.items() if k not in _BOOKKEEPING}
        return Collected(
            item_type=kind,
            raw=row.row,
            text="\n".join(lines),
            title=row.name,
            published_at=parse_time(row.row.get("first_seen")),
            entities=unique(entities),
            relations=unique(relations),
            hash_basis="public_db|" + json.dumps(stable, sort_keys=True, default=str),
        )

    def _link(
        self, row: dict[str, Any], known: dict[str, Observed], config: PublicDbConfig, origin: str
    ) -> Collected | None:
        source_key, target_key, kind = _FTM_LINKS[str(row["schema"])]
        props = row["properties"]
        ends = [
            known.get(next(iter(_values(props.get(k), config.separator)), ""))
            for k in (source_key, target_key)
        ]
        link = relation(ends[0], ends[1], kind, confidence=0.9, list_id=row.get("id"))
        if link is None:
            return None
        stable = {k: v for k, v in row.items() if k not in _BOOKKEEPING}
        return Collected(
            item_type="registry_link",
            raw=row,
            text=f"{ends[0].value} {kind.value} {ends[1].value}",  # type: ignore[union-attr]
            title=f"{row['schema']}: {ends[0].value} → {ends[1].value}",  # type: ignore[union-attr]
            entities=unique(ends),
            relations=[link],
            hash_basis="public_db|" + json.dumps(stable, sort_keys=True, default=str),
        )


Config = PublicDbConfig
"""The module's config model, by the name every collector module exports."""
