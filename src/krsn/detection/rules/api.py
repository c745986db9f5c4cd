"""REST routes of correlation rules, with their dry run."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.dependencies import DbSession, IntelWriter, Reader, get_database
from krsn.detection.models import RuleType
from krsn.detection.rules import dryrun, service
from krsn.detection.rules.schemas import (
    DryRunRead,
    RuleCreate,
    RuleRead,
    RuleSort,
    RuleTest,
    RuleUpdate,
)
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/correlation-rules", tags=["correlation rules"], route_class=ApiRoute)

DatabaseOf = Annotated[Database, Depends(get_database)]
Since = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        description="Start of the period: a duration back from now (30m, 12h, 7d) or an "
        "ISO 8601 time.",
    ),
]
Until = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="End of the period (default: now), as since."),
]
EventLimit = Annotated[
    int,
    Query(ge=1, le=dryrun.MAX_LIMIT, description="The most events read, the earliest first."),
]
Samples = Annotated[
    int, Query(ge=0, le=dryrun.MAX_SAMPLES, description="How many firings to show.")
]

_TEST_DESCRIPTION = (
    "Replays the period's sightings and ingested records, in time order, through the rule "
    "and reports what it would have fired: how often, for which keys, and the first firings. "
    "Nothing is written, and no alert is raised."
)


def _read(row: Any) -> RuleRead:
    return RuleRead.model_validate(row)


@router.get("", response_model=Page[RuleRead], summary="List correlation rules")
def list_rules(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        RuleSort, Query(description="A field ascending, or descending with a leading '-'.")
    ] = RuleSort.NAME,
    rule_type: RuleType | None = None,
    is_active: Annotated[
        bool | None, Query(description="Only active (true) or inactive (false) rules.")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Part of the name.")
    ] = None,
) -> dict[str, Any]:
    """Correlation rules, by name unless ``sort`` says otherwise."""
    result = service.page_rules(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort,
        rule_type=rule_type,
        is_active=is_active,
        q=q,
    )
    return page_of(result, _read)


@router.post("", response_model=RuleRead, status_code=201, summary="Create a correlation rule")
def create_rule(body: RuleCreate, principal: IntelWriter, session: DbSession) -> RuleRead:
    """A new rule, checked whole: a fault names its JSON path
    (``rule_definition.condition.all.1.op``). Active unless ``is_active`` is false."""
    row = service.create_rule(session, actor=principal.actor, values=body.model_dump())
    return _read(row)


@router.post(
    "/test",
    response_model=DryRunRead,
    summary="Test an unsaved rule on past data",
    description=_TEST_DESCRIPTION,
)
def test_unsaved_rule(
    body: RuleTest,
    principal: IntelWriter,
    database: DatabaseOf,
    since: Since = "7d",
    until: Until = None,
    limit: EventLimit = dryrun.DEFAULT_LIMIT,
    samples: Samples = 20,
) -> DryRunRead:
    now = utcnow()
    # Its own read-only transaction: a long replay must not hold SQLite's write lock.
    with database.transaction(readonly=True) as session:
        start, end = dryrun.parse_period(since, until, now=now)
        report = dryrun.dry_run(
            session,
            rule_type=body.rule_type,
            definition=body.rule_definition,
            confidence_threshold=body.confidence_threshold,
            time_window_minutes=body.time_window_minutes,
            parameters=body.parameters,
            name=body.name,
            since=start,
            until=end,
            limit=limit,
            samples=samples,
        )
    return DryRunRead.model_validate(report)


@router.get("/{rule_id}", response_model=RuleRead, summary="Show a correlation rule")
def show_rule(rule_id: uuid.UUID, principal: Reader, session: DbSession) -> RuleRead:
    return _read(service.get_rule(session, rule_id))


@router.patch("/{rule_id}", response_model=RuleRead, summary="Change a correlation rule")
def update_rule(
    rule_id: uuid.UUID, body: RuleUpdate, principal: IntelWriter, session: DbSession
) -> RuleRead:
    """Change the fields sent, ``is_active`` among them (switch the rule on or off); the rule
    is checked whole again. Changing what a threshold or time-based rule counts forgets the
    events it had counted."""
    row = service.update_rule(
        session,
        service.get_rule(session, rule_id),
        actor=principal.actor,
        changes=body.model_dump(exclude_unset=True),
    )
    return _read(row)


@router.delete(
    "/{rule_id}", status_code=204, response_class=Response, summary="Delete a correlation rule"
)
def delete_rule(rule_id: uuid.UUID, principal: IntelWriter, session: DbSession) -> Response:
    """Its alerts stay, no longer linked to it."""
    service.delete_rule(session, service.get_rule(session, rule_id), actor=principal.actor)
    return Response(status_code=204)


@router.post(
    "/{rule_id}/test",
    response_model=DryRunRead,
    summary="Test a saved rule on past data",
    description=_TEST_DESCRIPTION + " The rule may be inactive: test it before switching it on.",
)
def test_rule(
    rule_id: uuid.UUID,
    principal: IntelWriter,
    database: DatabaseOf,
    since: Since = "7d",
    until: Until = None,
    limit: EventLimit = dryrun.DEFAULT_LIMIT,
    samples: Samples = 20,
) -> DryRunRead:
    now = utcnow()
    with database.transaction(readonly=True) as session:
        rule = service.get_rule(session, rule_id)
        start, end = dryrun.parse_period(since, until, now=now)
        report = dryrun.dry_run_rule(
            session,
            rule,
            since=start,
            until=end,
            limit=limit,
            samples=samples,
        )
    return DryRunRead.model_validate(report)
