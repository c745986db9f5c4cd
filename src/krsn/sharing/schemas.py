"""What the ATT&CK import and lookups hand to the CLI (``--json``) and, later, the API."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field


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
