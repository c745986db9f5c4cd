"""Correlation rules: audited create, change, switch on and off, delete, and keyset lists.

A rule is checked whole on every save, as the engine will compile it (its type, definition,
window and confidence threshold together), so a stored active rule always runs. Changing
what a threshold or time-based rule counts forgets the events it had counted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult
from krsn.detection.models import CorrelationRule, RuleMatch, RuleType
from krsn.detection.rules import engine
from krsn.errors import Invalid, NotFound
from krsn.identity.audit import Actor
from krsn.sharing import knowledge, links

__all__ = [
    "KIND",
    "create_rule",
    "delete_rule",
    "find_rule",
    "get_rule",
    "page_rules",
    "set_active",
    "update_rule",
]

MAX_DOCUMENT: Final = 64 * 1024
"""The largest ``rule_definition`` or ``parameters``, as compact JSON."""

# What decides which events a stateful rule counted: a change to any forgets them.
_STATE_FIELDS: Final = frozenset(
    {"rule_type", "rule_definition", "time_window_minutes", "confidence_threshold"}
)


def _new(actor: Actor) -> CorrelationRule:
    return CorrelationRule(id=uuid.uuid4(), is_active=True, created_by=actor.user_id)


def _size(value: Any, name: str) -> Any:
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise Invalid(name, "must be JSON (finite numbers, string keys)") from None
    if len(text) > MAX_DOCUMENT:
        raise Invalid(name, f"must be at most {MAX_DOCUMENT // 1024} KiB of JSON")
    return value


def _apply(session: Session, row: CorrelationRule, values: Mapping[str, Any]) -> None:
    """Set the fields given, once the rule they make is known to compile."""
    merged = {
        "rule_type": values.get("rule_type", row.rule_type),
        "rule_definition": values.get("rule_definition", row.rule_definition),
        "time_window_minutes": values.get("time_window_minutes", row.time_window_minutes),
        "confidence_threshold": values.get("confidence_threshold", row.confidence_threshold),
        "parameters": values.get("parameters", row.parameters),
    }
    if merged["rule_type"] is None:
        raise Invalid("rule_type", f"required: one of {', '.join(t.value for t in RuleType)}")
    if merged["rule_definition"] is None:
        raise Invalid("rule_definition", "required: what the rule fires on (see docs/rules.md)")
    _size(merged["rule_definition"], "rule_definition")
    parameters = merged["parameters"]
    if parameters is not None and not isinstance(parameters, dict):
        raise Invalid("parameters", "must be a JSON object")
    _size(parameters, "parameters")
    engine.compile_rule(
        rule_id=row.id,
        name=row.name,
        rule_type=merged["rule_type"],
        definition=merged["rule_definition"],
        confidence_threshold=merged["confidence_threshold"],
        time_window_minutes=merged["time_window_minutes"],
        parameters=parameters,
    )
    if "is_active" in values and not isinstance(values["is_active"], bool):
        raise Invalid("is_active", "must be true or false")
    forget = row.created_at is not None and any(
        name in values and values[name] != getattr(row, name) for name in _STATE_FIELDS
    )
    for name in (
        "description",
        "is_active",
        "rule_definition",
        "time_window_minutes",
        "parameters",
    ):
        if name in values:
            setattr(row, name, values[name])
    if "rule_type" in values:
        row.rule_type = RuleType(values["rule_type"])
    if "confidence_threshold" in values:
        given = values["confidence_threshold"]
        row.confidence_threshold = None if given is None else Decimal(str(round(float(given), 2)))
    if forget:
        session.execute(delete(RuleMatch).where(RuleMatch.rule_id == row.id))


KIND: Final = knowledge.Kind(
    model=CorrelationRule,
    resource="correlation_rule",
    noun="correlation rule",
    article="a",
    name="name",
    unnamed="a correlation rule needs a name",
    fields=frozenset(
        {
            "name",
            "description",
            "rule_type",
            "rule_definition",
            "is_active",
            "confidence_threshold",
            "time_window_minutes",
            "parameters",
        }
    ),
    sorts={
        "name": CorrelationRule.name,
        "created": CorrelationRule.created_at,
        "updated": CorrelationRule.updated_at,
    },
    new=_new,
    apply=_apply,
)


def get_rule(session: Session, rule_id: uuid.UUID) -> CorrelationRule:
    """The rule with this id; ``NotFound`` when there is none."""
    return knowledge.get(session, KIND, rule_id)


def find_rule(session: Session, ref: str) -> CorrelationRule:
    """A rule by id or by name (exact, else in any case)."""
    try:
        row = session.get(CorrelationRule, uuid.UUID(ref))
    except ValueError:
        row = None
    if row is None:
        row = knowledge.by_name(session, KIND, ref)
    if row is None:
        raise NotFound(f"No correlation rule {ref!r}; 'krsn rules list' shows them.")
    return row


def create_rule(session: Session, *, actor: Actor, values: Mapping[str, Any]) -> CorrelationRule:
    """A new rule, checked whole and audited; its name must be free (in any case)."""
    return knowledge.create(session, KIND, actor=actor, values=values)


def update_rule(
    session: Session, row: CorrelationRule, *, actor: Actor, changes: Mapping[str, Any]
) -> CorrelationRule:
    """Change the fields given (the rule is checked whole again), auditing old and new."""
    return knowledge.update(session, KIND, row, actor=actor, changes=changes)


def set_active(
    session: Session, row: CorrelationRule, *, actor: Actor, active: bool
) -> CorrelationRule:
    """Switch a rule on or off (audited as an update)."""
    return update_rule(session, row, actor=actor, changes={"is_active": active})


def delete_rule(session: Session, row: CorrelationRule, *, actor: Actor) -> None:
    """Delete a rule, audited with its last values; its counted events go with it, and its
    alerts stay, without it."""
    knowledge.delete(session, KIND, row, actor=actor)


def page_rules(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: str = "name",
    rule_type: RuleType | None = None,
    is_active: bool | None = None,
    q: str | None = None,
) -> PageResult[CorrelationRule]:
    """A page of rules; ``q`` is part of the name, in any case."""
    statement = select(CorrelationRule)
    if rule_type is not None:
        statement = statement.where(CorrelationRule.rule_type == rule_type)
    if is_active is not None:
        statement = statement.where(CorrelationRule.is_active.is_(is_active))
    if q is not None:
        statement = statement.where(links.name_matches(session, CorrelationRule.name, q))
    return knowledge.page(session, KIND, statement, sort=sort, limit=limit, cursor=cursor)
