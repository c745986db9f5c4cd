"""What crosses the boundary for correlation rules: create, change and read a rule, test
one, and the dry run's report (the API and ``krsn rules … --json`` alike)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from krsn.detection.models import AlertPriority, AlertSeverity, RuleType
from krsn.detection.rules import language
from krsn.detection.rules.engine import MAX_COUNT, MAX_STEPS, MAX_WINDOW_MINUTES

Name = Annotated[str, Field(min_length=1, max_length=255)]
Description = Annotated[str | None, Field(max_length=10_000)]


def _definition_schema() -> dict[str, Any]:
    """The shapes of a rule definition, for the OpenAPI document. The rule language checks
    a definition itself (naming the JSON path of a fault); this only describes it, with one
    level of ``all``/``any``/``not`` where a condition may nest up to 8."""
    field = {
        "anyOf": [
            {"type": "string", "enum": list(language.FIELDS)},
            {"type": "string", "pattern": r"^context\.[A-Za-z0-9_-]{1,64}$"},
        ]
    }
    leaf = {
        "type": "object",
        "properties": {
            "field": field,
            "op": {"type": "string", "enum": list(language.OPERATORS)},
            "value": {
                "description": "What the field is compared with; exists takes none.",
                "anyOf": [
                    {"type": "string", "maxLength": language.MAX_TEXT},
                    {"type": "number"},
                    {"type": "boolean"},
                    {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                        "minItems": 1,
                        "maxItems": language.MAX_LIST,
                    },
                ],
            },
        },
        "required": ["field", "op"],
        "additionalProperties": False,
    }

    def branch(key: str, inner: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {key: inner},
            "required": [key],
            "additionalProperties": False,
        }

    conditions = {"type": "array", "items": leaf, "minItems": 1}
    condition = {
        "anyOf": [leaf, branch("all", conditions), branch("any", conditions), branch("not", leaf)]
    }
    common = {
        "severity": {"type": "string", "enum": [s.value for s in AlertSeverity]},
        "priority": {"type": "string", "enum": [p.value for p in AlertPriority]},
        "title": {"type": "string", "minLength": 1, "maxLength": language.MAX_TEMPLATE},
    }
    group_by = {"type": "array", "items": field, "maxItems": 5}

    def shape(title: str, required: list[str], **properties: Any) -> dict[str, Any]:
        return {
            "title": title,
            "type": "object",
            "properties": {**properties, **common},
            "required": required,
            "additionalProperties": False,
        }

    return {
        "description": "What the rule fires on, by rule type (see docs/rules.md).",
        "anyOf": [
            shape("pattern", ["condition"], condition=condition),
            shape(
                "threshold",
                ["count"],
                condition=condition,
                group_by=group_by,
                count={"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
            ),
            shape(
                "time_based",
                ["steps"],
                steps={"type": "array", "items": condition, "minItems": 2, "maxItems": MAX_STEPS},
                group_by=group_by,
                ordered={"type": "boolean"},
            ),
            shape(
                "ml",
                ["model", "min_score"],
                model={"type": "string", "minLength": 1, "maxLength": 255},
                min_score={"type": "number", "minimum": 0, "maximum": 1},
                condition=condition,
            ),
        ],
    }


Definition = Annotated[dict[str, Any], WithJsonSchema(_definition_schema())]
Confidence = Annotated[
    float | None,
    Field(
        ge=0,
        le=100,
        description="Only observations whose indicator has at least this confidence (0-100) "
        "count; observations without an indicator then never do.",
    ),
]
WindowMinutes = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_WINDOW_MINUTES,
        description="The window threshold and time-based rules count in (required by them); "
        "for every rule, how long its alert gathers repeated firings.",
    ),
]
Parameters = Annotated[
    dict[str, Any] | None,
    Field(description="Free JSON, copied into the evidence of each firing."),
]


class RuleSort(enum.StrEnum):
    """Orders of the rules: a field ascending, or descending with a leading '-'."""

    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created"
    CREATED_DESC = "-created"
    UPDATED = "updated"
    UPDATED_DESC = "-updated"


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = None
    rule_type: RuleType
    rule_definition: Definition
    is_active: bool = True
    confidence_threshold: Confidence = None
    time_window_minutes: WindowMinutes = None
    parameters: Parameters = None


class RuleUpdate(BaseModel):
    """The fields to change; the rest stay. ``is_active`` switches the rule on or off."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description = None
    rule_type: RuleType | None = None
    rule_definition: Definition | None = None
    is_active: bool | None = None
    confidence_threshold: Confidence = None
    time_window_minutes: WindowMinutes = None
    parameters: Parameters = None

    @field_validator("name", "rule_type", "rule_definition", "is_active")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out but not null")
        return value


class RuleTest(BaseModel):
    """An unsaved rule to try on past data."""

    model_config = ConfigDict(extra="forbid")

    name: Name = "unsaved rule"
    rule_type: RuleType
    rule_definition: Definition
    confidence_threshold: Confidence = None
    time_window_minutes: WindowMinutes = None
    parameters: Parameters = None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    rule_type: RuleType
    rule_definition: dict[str, Any]
    is_active: bool
    confidence_threshold: float | None
    time_window_minutes: int | None
    parameters: dict[str, Any] | None
    created_at: datetime | None
    updated_at: datetime | None
    created_by: uuid.UUID | None

    @field_validator("confidence_threshold", mode="before")
    @classmethod
    def _plain_number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, Decimal) else value


class SampleFiringRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    title: str
    severity: str
    origin: str
    value: str
    observed_at: datetime
    indicator_id: str | None
    indicator_value: str | None


class KeyCountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    count: int


class DryRunRead(BaseModel):
    """What a rule would have fired in a period; nothing was written."""

    model_config = ConfigDict(from_attributes=True)

    rule_id: uuid.UUID | None
    rule_name: str
    rule_type: str
    since: datetime
    until: datetime
    events_total: int = Field(description="Sightings and ingested records in the period.")
    events_scanned: int = Field(description="Read and replayed, the earliest first.")
    sightings_scanned: int
    ingests_scanned: int
    firings: int = Field(
        description="How often the rule would have fired (alerts would gather repeats by key)."
    )
    distinct_keys: int
    capped: bool = Field(description="True when the period held more events than the limit.")
    scanned_until: datetime | None = Field(description="The time of the last event read.")
    keys: list[KeyCountRead] = Field(description="The keys that fired most (at most 50).")
    samples: list[SampleFiringRead] = Field(description="The first firings, in time order.")
