"""What crosses the boundary for threat sources, feeds, their templates, runs and previews."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import UploadFile
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)
from pydantic.json_schema import SkipJsonSchema

from krsn.feeds.models import FeedFormat, ThreatSourceType

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]
Percent = Annotated[float, Field(ge=0, le=100)]
Minutes = Annotated[int, Field(ge=5, le=7 * 24 * 60)]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


# --- credentials ----------------------------------------------------------------------------

CredentialType = Literal["header", "bearer", "basic", "query"]
CREDENTIAL_TYPES: Final[tuple[str, ...]] = ("header", "bearer", "basic", "query")

# Headers the HTTP client or the fetcher set themselves; a credential must not replace them.
RESERVED_HEADERS: Final = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "accept-encoding",
        "if-none-match",
        "if-modified-since",
        "user-agent",
    }
)
MASK: Final = "********"


def _one_line(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("must be one line, without control characters")
    return value


def _allowed_header(name: str) -> str:
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"{name} is set by the fetcher; use another header")
    return name


Secret = Annotated[str, Field(min_length=1, max_length=4096, repr=False), AfterValidator(_one_line)]
HeaderName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
        description="An HTTP header name, as in Auth-Key or X-Api-Key.",
    ),
    AfterValidator(_allowed_header),
]


class HeaderCredential(Strict):
    """A secret sent in a request header (abuse.ch's ``Auth-Key``, ``X-Api-Key``, …)."""

    type: Literal["header"]
    name: HeaderName
    value: Secret


class BearerCredential(Strict):
    """A token sent as ``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: Annotated[Secret, Field(pattern=r"^\S+$")]


class BasicCredential(Strict):
    """HTTP basic authentication."""

    type: Literal["basic"]
    username: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^:\r\n\x00]+$")]
    password: Secret


class QueryCredential(Strict):
    """A secret sent as a query parameter (``?apikey=…``); prefer a header where offered."""

    type: Literal["query"]
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._~-]+$")]
    value: Secret


def _credential_type(value: Any) -> str | None:
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return found if found in CREDENTIAL_TYPES else None


SourceCredential = Annotated[
    Annotated[HeaderCredential, Tag("header")]
    | Annotated[BearerCredential, Tag("bearer")]
    | Annotated[BasicCredential, Tag("basic")]
    | Annotated[QueryCredential, Tag("query")],
    Discriminator(
        _credential_type,
        custom_error_type="credential_type",
        custom_error_message="set 'type' to header, bearer, basic or query",
    ),
]
"""What ``threat_sources.authentication_config`` holds: one credential, by ``type``."""


class CredentialRead(BaseModel):
    """A source's credential as shown: its type and names, every secret masked."""

    type: str
    name: str | None = Field(None, description="The header or query parameter it is sent in.")
    username: str | None = None
    value: str | None = Field(None, description="Masked.")
    token: str | None = Field(None, description="Masked.")
    password: str | None = Field(None, description="Masked.")


# --- templates ------------------------------------------------------------------------------


class TemplateParameterRead(BaseModel):
    name: str
    description: str
    kind: str
    required: bool
    default: str | None
    pattern: str | None


class TemplateCredentialRead(BaseModel):
    types: list[str] = Field(description="Credential types the provider accepts, preferred first.")
    name: str | None = Field(None, description="The header or query parameter, when fixed.")
    required: bool
    description: str


class FeedTemplateRead(BaseModel):
    """One entry of the gallery: what the feed is and which parameters it takes."""

    name: str
    title: str
    provider: str
    homepage: str
    url: str
    format: str
    update_frequency_minutes: int
    default_confidence: int
    source_reliability: int
    source_type: ThreatSourceType
    kinds: list[str]
    tags: list[str]
    licence: str
    description: str
    notes: str | None
    parameters: list[TemplateParameterRead]
    credential: TemplateCredentialRead | None = Field(
        None, description="The credential the provider takes; it is stored on the source."
    )


# --- threat sources -------------------------------------------------------------------------


class ThreatSourceCreate(Strict):
    name: Name
    description: Annotated[str, Field(max_length=10_000)] | None = None
    source_type: ThreatSourceType | None = None
    api_endpoint: Url | None = None
    authentication_config: SourceCredential | None = Field(
        None,
        description="The credential its feeds are fetched with; stored encrypted, never "
        "returned (``authentication`` shows its type and names).",
    )
    is_active: bool = True
    refresh_interval_minutes: Minutes | None = None
    reliability_score: Percent | None = None
    metadata: dict[str, Any] | None = None


class ThreatSourceUpdate(Strict):
    """The fields given change; null clears a field that may be empty."""

    name: Name | SkipJsonSchema[None] = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    source_type: ThreatSourceType | None = None
    api_endpoint: Url | None = None
    authentication_config: SourceCredential | None = Field(
        None, description="Replaces the stored credential as a whole; null removes it."
    )
    is_active: bool | SkipJsonSchema[None] = None
    refresh_interval_minutes: Minutes | None = None
    reliability_score: Percent | None = None
    metadata: dict[str, Any] | None = None


class ThreatSourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    source_type: ThreatSourceType | None
    api_endpoint: str | None
    is_active: bool
    refresh_interval_minutes: int | None
    reliability_score: float | None
    last_updated: datetime | None
    metadata: dict[str, Any] | None = Field(None, validation_alias="metadata_")
    authentication_config_keys: list[str] = Field(
        default_factory=list, description="Which keys the authentication config sets."
    )
    authentication: CredentialRead | None = Field(
        None, description="The credential's type and header name; its secret is masked."
    )


# --- feeds ----------------------------------------------------------------------------------


class TemplateFeedCreate(Strict):
    """A feed from the gallery: its parameters filled in, and a name to rename it."""

    template: Annotated[str, Field(min_length=1, max_length=100)]
    parameters: dict[str, Annotated[str, Field(max_length=2048)]] | None = None
    name: Name | None = None
    authentication_config: SourceCredential | None = Field(
        None,
        description="A credential for the provider (see the template's ``credential``); "
        "stored encrypted on its source, replacing any there.",
    )


class CustomFeedCreate(Strict):
    """A feed by hand; ``source`` names its provider, created on first use."""

    name: Name
    url: Url
    format: FeedFormat
    parsing_rules: dict[str, Any] = Field(default_factory=dict)
    source: Name
    reliability: Percent | None = Field(None, description="The new provider's reliability.")
    default_confidence: Percent | None = None
    update_frequency_minutes: Minutes | None = None


def _feed_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "template" if "template" in value else "custom"
    return "template" if isinstance(value, TemplateFeedCreate) else "custom"


FeedCreate = Annotated[
    Annotated[TemplateFeedCreate, Tag("template")] | Annotated[CustomFeedCreate, Tag("custom")],
    Discriminator(_feed_kind),
]
"""A body with ``template`` adds from the gallery; any other is a custom feed."""


class FeedUpdate(Strict):
    """The fields given change; only ``default_confidence`` may be cleared with null."""

    is_active: bool | SkipJsonSchema[None] = None
    url: Url | SkipJsonSchema[None] = None
    parsing_rules: dict[str, Any] | None = None
    update_frequency_minutes: Minutes | SkipJsonSchema[None] = None
    default_confidence: Percent | None = None


class FeedRun(BaseModel):
    """One run: its status and counts (``error`` when it failed)."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    started_at: str | None = None
    status: str | None = None
    parsed: int | None = None
    new: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    rejected: int | None = None
    suppressed: int | None = None
    duration_s: float | None = None
    fetched_bytes: int | None = None
    attempts: int | None = None
    error: str | None = None
    errors: list[dict[str, Any]] | None = None
    trigger: str | None = Field(
        None, description="upload for a file sent by hand; absent for a download."
    )
    file: str | None = Field(None, description="The uploaded file's name.")
    uploaded_bytes: int | None = None


class FeedUpload(BaseModel):
    """The multipart form of a file upload."""

    file: UploadFile = Field(description="The feed's content, in the feed's format.")


class FeedRead(BaseModel):
    id: uuid.UUID
    name: str
    url: str | None
    format: str | None
    source_id: uuid.UUID
    source: str | None
    template: str | None
    is_active: bool
    update_frequency_minutes: int | None
    default_confidence: float | None
    parsing_rules: dict[str, Any] | None
    last_successful_update: datetime | None
    next_scheduled_update: datetime | None
    last_run: FeedRun | None


class FeedRuns(BaseModel):
    feed_id: uuid.UUID
    feed: str
    runs: list[FeedRun] = Field(description="Newest first.")


class PreviewRequest(Strict):
    sample: Annotated[str, Field(max_length=200_000)] = Field(
        description="A few lines (or one document) of the feed as it would be downloaded."
    )
    parsing_rules: dict[str, Any] | None = Field(
        None, description="Rules to try instead of the feed's own."
    )


class SamplePreviewRequest(Strict):
    format: FeedFormat = Field(description="The format of the feed to be (csv, text, json, ...).")
    sample: Annotated[str, Field(max_length=200_000)] = Field(
        description="A few lines (or one document) of the feed as it would be downloaded."
    )
    parsing_rules: dict[str, Any] = Field(
        default_factory=dict, description="The rules the new feed would have."
    )


class PreviewRow(BaseModel):
    line: int
    value: str | None
    kind: str | None = None
    canonical: str | None = Field(None, description="The value as it would be stored.")
    rejected: str | None = Field(None, description="Why the row would not be stored.")
    suppressed_by: str | None = Field(None, description="The warninglist that stops it.")


class PreviewResponse(BaseModel):
    rows: list[PreviewRow]
    accepted: int
    rejected: int
    truncated: bool = Field(description="True when the sample held more rows than shown.")
