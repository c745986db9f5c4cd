"""What a STIX bundle import hands back to the API, the CLI (``--json``) and the audit log."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field


class TypeCounts(BaseModel):
    """What one import did with the objects of one STIX type; each object counts once."""

    created: int = 0
    """New STIX ids that became (or joined) a row of ours: an indicator, actor, campaign…"""
    updated: int = 0
    """Newer versions of ids we held, applied."""
    unchanged: int = 0
    """Versions we already held, and older ones (ignored: the newer ``modified`` wins)."""
    kept: int = 0
    """New or newer objects with no table of ours, stored in the STIX object store only."""
    rejected: int = 0
    """Objects not stored; ``errors`` says where and why."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("created", "updated", "unchanged", "kept", "rejected")

    def add(self, other: TypeCounts) -> None:
        for column in self.COLUMNS:
            setattr(self, column, getattr(self, column) + getattr(other, column))


class ObjectError(BaseModel):
    """A rejected object: its position in the bundle (from 1) and why."""

    position: int
    id: str | None = None
    type: str | None = None
    reason: str


class RejectedValue(BaseModel):
    """A value of an indicator or observable the normaliser refused (the object is kept)."""

    position: int
    value: str | None = None
    reason: str


class IndicatorCounts(BaseModel):
    """What the indicator pipeline did with the values of indicators and observables."""

    values: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    suppressed: int = 0
    """Values a warninglist stopped (stored inactive, their records marked false positive)."""
    patterns: int = 0
    """Indicators whose pattern is not a list of simple comparisons: kept whole as STIX."""
    errors: list[RejectedValue] = Field(default_factory=list)


class LinkCounts(BaseModel):
    """Links made from relationships (already present ones are not counted)."""

    actor_indicators: int = 0
    campaign_indicators: int = 0
    indicator_techniques: int = 0
    campaign_actors: int = 0
    """Actors added to a campaign's ``attributed_actors``."""


class StixImportSummary(BaseModel):
    """One bundle's import: counts per STIX type, the indicator values, the links made."""

    source: str
    bundle_id: str | None = None
    spec_version: str | None = None
    objects: int = 0
    types: dict[str, TypeCounts] = Field(default_factory=dict)
    total: TypeCounts = Field(default_factory=TypeCounts)
    indicators: IndicatorCounts = Field(default_factory=IndicatorCounts)
    links: LinkCounts = Field(default_factory=LinkCounts)
    errors: list[ObjectError] = Field(default_factory=list)
    duration_s: float = 0.0

    def of(self, stix_type: str) -> TypeCounts:
        """The counts of one type, made on first use."""
        counts = self.types.get(stix_type)
        if counts is None:
            counts = self.types[stix_type] = TypeCounts()
        return counts
