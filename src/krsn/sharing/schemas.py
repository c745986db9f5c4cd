"""What the ATT&CK import and lookups hand to the CLI (``--json``), and what the knowledge
objects (actors, campaigns, techniques, links, IOC collections, threat reports) take and give
over the API."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from krsn.indicators.models import IndicatorType
from krsn.schemas import UtcDateTime
from krsn.sharing.models import (
    ActorRelationship,
    CampaignRelationship,
    CampaignStatus,
    Classification,
    ReportType,
    Sophistication,
)
from krsn.sharing.tlp import normalise_input


class ImportCounts(BaseModel):
    """What one import did to one kind of ATT&CK object."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    revoked: int = 0
    """Objects of this kind the bundle marks revoked or deprecated (kept, flagged)."""
    removed: int = 0
    """Relationships only: ``uses`` links the newer bundle no longer states."""


class ImportSummary(BaseModel):
    """One bundle's import: its domain and version, and counts per kind of object."""

    domain: str
    attack_version: str | None = None
    spec_version: str | None = None
    objects: int = 0
    techniques: ImportCounts = Field(default_factory=ImportCounts)
    subtechniques: ImportCounts = Field(default_factory=ImportCounts)
    tactics: ImportCounts = Field(default_factory=ImportCounts)
    groups: ImportCounts = Field(default_factory=ImportCounts)
    campaigns: ImportCounts = Field(default_factory=ImportCounts)
    software: ImportCounts = Field(default_factory=ImportCounts)
    relationships: ImportCounts = Field(default_factory=ImportCounts)
    warnings: list[str] = Field(default_factory=list)
    duration_s: float = 0.0

    KINDS: ClassVar[tuple[str, ...]] = (
        "techniques",
        "subtechniques",
        "tactics",
        "groups",
        "campaigns",
        "software",
        "relationships",
    )

    def counts(self) -> dict[str, ImportCounts]:
        """The per-kind counts, in display order."""
        return {kind: getattr(self, kind) for kind in self.KINDS}


class TechniqueRef(BaseModel):
    """An ATT&CK object named by its ATT&CK id (a group, a piece of software, a technique)."""

    attack_id: str
    name: str
    actor_id: str | None = None
    type: str | None = None


class TechniqueRead(BaseModel):
    """One technique or sub-technique as listed."""

    technique_id: str
    technique_name: str
    tactics: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    is_subtechnique: bool = False
    status: str = "active"
    """active, revoked or deprecated."""
    domain: str | None = None
    indicator_count: int = Field(0, description="Indicators mapped to it (its coverage).")


class TechniqueDetail(TechniqueRead):
    """One technique with what ATT&CK says about it and who uses it."""

    description: str | None = None
    url: str | None = None
    stix_id: str | None = None
    revoked_by: str | None = None
    parent: TechniqueRef | None = None
    subtechniques: list[TechniqueRef] = Field(default_factory=list)
    data_sources: list[str] = Field(default_factory=list)
    defenses_bypassed: list[str] = Field(default_factory=list)
    groups: list[TechniqueRef] = Field(default_factory=list)
    software: list[TechniqueRef] = Field(default_factory=list)
    analyst_links: int = 0
    """Indicators an analyst mapped to this technique."""


# --- The knowledge objects over the API -----------------------------------------------------

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Labels = Annotated[list[Label], Field(max_length=500)]
LongText = Annotated[str, Field(max_length=100_000)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
TechniqueKey = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
    ),
    Field(description="A technique's id: an ATT&CK one (T1059.001) or a custom one."),
]
IndicatorKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    Field(description="An indicator's id, or its value (defanged or not)."),
]
MAX_BULK = 10_000
"""Indicators one collection request may add or remove."""
TlpLevel = Literal["clear", "green", "amber", "amber+strict", "red"]
Tlp = Annotated[
    TlpLevel,
    BeforeValidator(normalise_input),
    Field(
        description="The TLP 2.0 marking: clear, green, amber, amber+strict or red "
        "('TLP:RED' and 'tlp:white' read too); null removes it. It decides what exports, "
        "TAXII and MISP feeds release to whom."
    ),
]
TlpShown = Annotated[TlpLevel | None, Field(description="The TLP 2.0 marking; null when unmarked.")]


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ListSort(enum.StrEnum):
    """Orders of a list: a field ascending, or descending with a leading '-'."""

    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created"
    CREATED_DESC = "-created"
    UPDATED = "updated"
    UPDATED_DESC = "-updated"


class ReportSort(enum.StrEnum):
    """Orders of the threat reports: a field ascending, or descending with a leading '-'."""

    TITLE = "title"
    TITLE_DESC = "-title"
    CREATED = "created"
    CREATED_DESC = "-created"
    UPDATED = "updated"
    UPDATED_DESC = "-updated"


class IndicatorRef(BaseModel):
    """An indicator as other objects show it; ``GET /indicators/{id}`` has the rest."""

    id: uuid.UUID
    value: str | None = Field(description="Null only when the indicator was just deleted.")
    type: IndicatorType | None


class ActorRef(BaseModel):
    """A threat actor named from another object (a campaign's attribution)."""

    actor_id: uuid.UUID | None = Field(
        None, description="Null when the actor is not (or no longer) in the database."
    )
    name: str
    attack_id: str | None = None


class ToolRef(BaseModel):
    """A tool or piece of malware an actor uses."""

    name: str
    attack_id: str | None = None
    type: str | None = None
    domain: str | None = None
    source: Literal["attack", "analyst"]


UseSource = Literal["attack", "analyst", "indicators"]


class TechniqueUse(BaseModel):
    """A technique an actor or a campaign uses, and who says so."""

    technique_id: str
    name: str | None = None
    sources: list[UseSource] = Field(
        description="attack: the ATT&CK import; analyst: set by hand; indicators: mapped to "
        "one of the linked indicators."
    )


class CampaignRef(BaseModel):
    """A campaign named from an actor."""

    id: uuid.UUID
    campaign_name: str
    status: CampaignStatus


# --- threat actors --------------------------------------------------------------------------


def _ordered_dates(first: datetime | None, last: datetime | None) -> None:
    # A time without a zone is UTC, as stored; comparing it to one with a zone would fail.
    if first is not None and first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if first is not None and last is not None and first > last:
        raise ValueError("first_observed must not be after last_observed")


class ActorCreate(Strict):
    actor_name: Name
    aliases: Labels = Field(default_factory=list)
    description: LongText | None = None
    sophistication: Sophistication | None = None
    motivations: Labels = Field(default_factory=list)
    target_industries: Labels = Field(default_factory=list)
    target_countries: Labels = Field(default_factory=list)
    known_tools: Labels = Field(
        default_factory=list,
        description="Tools by name; those the ATT&CK import wrote are kept beside them.",
    )
    techniques: Annotated[list[TechniqueKey], Field(max_length=1000)] = Field(
        default_factory=list, description="Ids of techniques the actor uses (they must exist)."
    )
    attribution_data: dict[str, Any] | None = Field(
        None, description="Free-form attribution notes; the 'mitre_attack' key is the import's."
    )
    first_observed: UtcDateTime | None = None
    last_observed: UtcDateTime | None = None
    tlp: Tlp | None = None

    @model_validator(mode="after")
    def _dates(self) -> ActorCreate:
        _ordered_dates(self.first_observed, self.last_observed)
        return self


class ActorUpdate(Strict):
    """Only the fields sent change; a list sent replaces the analyst's part of it."""

    actor_name: Name | None = None
    aliases: Labels | None = None
    description: LongText | None = None
    sophistication: Sophistication | None = None
    motivations: Labels | None = None
    target_industries: Labels | None = None
    target_countries: Labels | None = None
    known_tools: Labels | None = None
    techniques: Annotated[list[TechniqueKey], Field(max_length=1000)] | None = None
    attribution_data: dict[str, Any] | None = None
    first_observed: UtcDateTime | None = None
    last_observed: UtcDateTime | None = None
    tlp: Tlp | None = None


class ActorRead(BaseModel):
    id: uuid.UUID
    actor_name: str
    aliases: list[str]
    description: str | None
    sophistication: Sophistication | None
    motivations: list[Any]
    target_industries: list[Any]
    target_countries: list[Any]
    known_tools: list[ToolRef]
    attack_id: str | None = Field(description="The ATT&CK group id when ATT&CK knows the actor.")
    first_observed: datetime | None
    last_observed: datetime | None
    tlp: TlpShown = None
    created_at: datetime | None
    updated_at: datetime | None
    indicator_count: int = Field(description="Indicators linked to the actor.")


class ActorDetail(ActorRead):
    """An actor with its techniques (ATT&CK's, an analyst's, its indicators'), its campaigns
    and its attribution data."""

    techniques: list[TechniqueUse]
    campaigns: list[CampaignRef]
    attribution_data: dict[str, Any]


# --- threat campaigns -----------------------------------------------------------------------


class CampaignCreate(Strict):
    campaign_name: Name
    description: LongText | None = None
    status: CampaignStatus = CampaignStatus.ACTIVE
    first_observed: UtcDateTime | None = None
    last_observed: UtcDateTime | None = None
    tactics: Labels = Field(default_factory=list)
    techniques: Annotated[list[TechniqueKey], Field(max_length=1000)] = Field(
        default_factory=list, description="Ids of techniques used (they must exist)."
    )
    procedures: Annotated[list[LongText], Field(max_length=1000)] = Field(default_factory=list)
    attributed_actors: Annotated[list[uuid.UUID], Field(max_length=100)] = Field(
        default_factory=list, description="Ids of the threat actors behind it."
    )
    tlp: Tlp | None = None

    @model_validator(mode="after")
    def _dates(self) -> CampaignCreate:
        _ordered_dates(self.first_observed, self.last_observed)
        return self


class CampaignUpdate(Strict):
    """Only the fields sent change; a list sent replaces the analyst's part of it (what the
    ATT&CK import wrote stays)."""

    campaign_name: Name | None = None
    description: LongText | None = None
    status: CampaignStatus | None = None
    first_observed: UtcDateTime | None = None
    last_observed: UtcDateTime | None = None
    tactics: Labels | None = None
    techniques: Annotated[list[TechniqueKey], Field(max_length=1000)] | None = None
    procedures: Annotated[list[LongText], Field(max_length=1000)] | None = None
    attributed_actors: Annotated[list[uuid.UUID], Field(max_length=100)] | None = None
    tlp: Tlp | None = None


class CampaignRead(BaseModel):
    id: uuid.UUID
    campaign_name: str
    description: str | None
    status: CampaignStatus
    first_observed: datetime | None
    last_observed: datetime | None
    tactics: list[str]
    techniques: list[TechniqueUse]
    procedures: list[Any]
    attributed_actors: list[ActorRef]
    analyst_id: uuid.UUID | None
    tlp: TlpShown = None
    created_at: datetime | None
    updated_at: datetime | None
    indicator_count: int = Field(description="Indicators linked to the campaign.")


# --- techniques -----------------------------------------------------------------------------


class TechniqueCreate(Strict):
    """A custom technique; ATT&CK's own come from the ATT&CK import."""

    technique_id: TechniqueKey
    technique_name: Name
    description: LongText | None = None
    tactics: Labels = Field(default_factory=list)
    platforms: Labels = Field(default_factory=list)
    data_sources: Labels = Field(default_factory=list)
    defenses_bypassed: Labels = Field(default_factory=list)


# --- links between indicators and the knowledge objects ------------------------------------


class LinkCreate(Strict):
    """What every new link of an indicator takes: which indicator, and how sure."""

    indicator: IndicatorKey
    confidence_score: Percent | None = None


class ActorIndicatorCreate(LinkCreate):
    relationship_type: ActorRelationship | None = None
    evidence: LongText | None = None


class CampaignIndicatorCreate(LinkCreate):
    relationship_type: CampaignRelationship | None = None
    notes: LongText | None = None


class IndicatorTechniqueCreate(LinkCreate):
    evidence: LongText | None = None


class ActorIndicatorUpdate(Strict):
    relationship_type: ActorRelationship | None = None
    confidence_score: Percent | None = None
    evidence: LongText | None = None


class CampaignIndicatorUpdate(Strict):
    relationship_type: CampaignRelationship | None = None
    confidence_score: Percent | None = None
    notes: LongText | None = None


class IndicatorTechniqueUpdate(Strict):
    confidence_score: Percent | None = None
    evidence: LongText | None = None


class LinkRead(BaseModel):
    """What every link of an indicator shows: the indicator, how sure, who and when."""

    id: uuid.UUID
    indicator: IndicatorRef
    confidence_score: float | None
    linked_at: datetime | None
    linked_by: uuid.UUID | None = Field(description="The user who made the link.")


class ActorIndicatorRead(LinkRead):
    actor_id: uuid.UUID
    relationship_type: ActorRelationship | None
    evidence: str | None


class CampaignIndicatorRead(LinkRead):
    campaign_id: uuid.UUID
    relationship_type: CampaignRelationship | None
    notes: str | None


class IndicatorTechniqueRead(LinkRead):
    technique_id: str
    evidence: str | None


# --- IOC collections ------------------------------------------------------------------------


class CollectionCreate(Strict):
    name: Name
    description: LongText | None = None
    is_public: bool = Field(
        False,
        description="Public collections are seen by everyone; private ones by their "
        "creator and admins only.",
    )
    metadata: dict[str, Any] | None = None
    tlp: Tlp | None = None


class CollectionUpdate(Strict):
    name: Name | None = None
    description: LongText | None = None
    is_public: bool | None = None
    metadata: dict[str, Any] | None = None
    tlp: Tlp | None = None


class CollectionRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    is_public: bool
    created_by: uuid.UUID | None
    metadata: dict[str, Any] | None
    tlp: TlpShown = None
    created_at: datetime | None
    updated_at: datetime | None
    indicator_count: int


class CollectionIndicators(Strict):
    """Indicators to add to or remove from a collection, by id or value."""

    indicators: Annotated[list[IndicatorKey], Field(min_length=1, max_length=MAX_BULK)]
    notes: LongText | None = Field(None, description="Kept on each added indicator.")


class CollectionChange(BaseModel):
    """What a bulk add or remove did."""

    changed: int = Field(description="Indicators added (or removed) by this request.")
    unchanged: int = Field(
        description="Indicators already in the collection (or, on removal, not in it)."
    )
    not_found: list[str] = Field(description="Ids or values of no known indicator.")
    unreadable: list[str] = Field(description="Values that are not indicators of any type.")
    indicator_count: int


class CollectionIndicatorRead(BaseModel):
    indicator: IndicatorRef
    added_at: datetime | None
    added_by: uuid.UUID | None
    notes: str | None


# --- threat reports -------------------------------------------------------------------------


class Attachment(Strict):
    """What is known of a file attached to a report; the file itself is stored elsewhere."""

    name: Name
    media_type: Annotated[str, Field(max_length=255)] | None = None
    size_bytes: Annotated[int, Field(ge=0, le=2**53)] | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")] | None = None


class ReportCreate(Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    executive_summary: LongText | None = None
    detailed_analysis: Annotated[str, Field(max_length=1_000_000)] | None = None
    report_type: ReportType | None = None
    classification: Classification = Classification.INTERNAL
    indicators_referenced: Annotated[list[uuid.UUID], Field(max_length=MAX_BULK)] = Field(
        default_factory=list, description="Ids of the indicators the report refers to."
    )
    attachments: Annotated[list[Attachment], Field(max_length=100)] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    tlp: Tlp | None = Field(
        None,
        description="A TLP 2.0 marking stricter than the classification's (public: clear, "
        "internal: amber+strict, confidential: red); it cannot loosen it.",
    )


class ReportUpdate(Strict):
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None
    executive_summary: LongText | None = None
    detailed_analysis: Annotated[str, Field(max_length=1_000_000)] | None = None
    report_type: ReportType | None = None
    classification: Classification | None = None
    indicators_referenced: Annotated[list[uuid.UUID], Field(max_length=MAX_BULK)] | None = None
    attachments: Annotated[list[Attachment], Field(max_length=100)] | None = None
    metadata: dict[str, Any] | None = None
    tlp: Tlp | None = Field(
        None,
        description="A TLP 2.0 marking stricter than the classification's; null removes it.",
    )


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    executive_summary: str | None
    detailed_analysis: str | None
    report_type: ReportType | None
    classification: Classification
    author_id: uuid.UUID | None
    indicators_referenced: list[Any]
    attachments: list[Any]
    published_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    metadata: dict[str, Any] | None = Field(None, validation_alias="metadata_")
    tlp: TlpShown = Field(
        None,
        description="The TLP it is shared under: the strictest of its marking and its "
        "classification's (public: clear, internal: amber+strict, confidential: red).",
    )
