"""What extraction gives over the API and the command line (``--json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from krsn.osint.extract.findings import Finding
from krsn.osint.models import EntityType

MAX_TEXT = 10_000_000
"""Characters one JSON request may send (the body-size cap bounds uploads too)."""


class ExtractRequest(BaseModel):
    """A text to search, and what to look for."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_TEXT, description="The text to search.")
    types: list[EntityType] | None = Field(
        default=None, description="Only these entity types; all when absent."
    )
    ner: bool = Field(default=True, description="Also find persons, organisations and locations.")


class FindingRead(BaseModel):
    """One thing found: its type, canonical value, the text as written and where it is."""

    model_config = ConfigDict(from_attributes=True)

    entity_type: EntityType
    canonical: str = Field(description="The normal form entities are keyed by.")
    value: str = Field(description="The text as written (perhaps defanged).")
    start: int = Field(description="Offset of the first character in the searched text.")
    end: int = Field(description="Offset just past the last character.")
    confidence: float
    method: str = Field(description="regex, regex+checksum, phonenumbers or ner:<model>.")
    subtype: str | None = Field(
        default=None, description="Hash algorithm, coin, IP version, network of a handle..."
    )

    @classmethod
    def of(cls, finding: Finding) -> FindingRead:
        """The API form of a finding."""
        return cls.model_validate(finding)
