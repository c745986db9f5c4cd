"""REST routes of indicators: search, one indicator with its intelligence, lookup, edits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from krsn.db import Database
from krsn.dependencies import DbSession, Identified, IntelWriter, Reader
from krsn.errors import Invalid
from krsn.indicators import lookup as lookups
from krsn.indicators import service
from krsn.indicators.models import IndicatorType, Severity, ThreatIndicator
from krsn.indicators.schemas import (
    IndicatorDetail,
    IndicatorRead,
    IndicatorSort,
    IndicatorUpdate,
    IntelligenceRead,
    LookupRequest,
    LookupResponse,
    Tag,
)
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, UtcDateTime, page_of

router = APIRouter(prefix="/indicators", tags=["indicators"], route_class=ApiRoute)


@router.get("", response_model=Page[IndicatorRead], summary="Search indicators")
def search(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    sort: Annotated[
        IndicatorSort,
        Query(
            description="Order of the results: a field ascending, or descending with a leading "
            "'-'. Indicators missing the sorted time or score come last either way. A cursor "
            "only pages on through the order it was issued for."
        ),
    ] = IndicatorSort.UPDATED_DESC,
    indicator_type: Annotated[
        IndicatorType | None, Query(alias="type", description="The indicator's type.")
    ] = None,
    severity: Annotated[Severity | None, Query(description="The indicator's severity.")] = None,
    is_active: Annotated[
        bool | None, Query(description="Only active (true) or inactive (false) indicators.")
    ] = None,
    source: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A threat source's name (any case) or id: indicators it reported. "
            "An unknown one is an error, not an empty page.",
        ),
    ] = None,
    feed: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A feed's name (any case) or id: indicators it reported. "
            "An unknown one is an error, not an empty page.",
        ),
    ] = None,
    tag: Annotated[
        list[Tag] | None,
        Query(
            max_length=service.MAX_SEARCH_TAGS,
            description="A tag the indicator carries, exactly as stored; repeat the parameter "
            "for several, which must all be there.",
        ),
    ] = None,
    malware_family: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A malware family the indicator is tied to, exactly as stored.",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="The start of the value, defanged or not: 'evil.', '203.0.113.', "
            "'hxxp://evil[.]example'.",
        ),
    ] = None,
    first_seen_after: Annotated[
        UtcDateTime | None, Query(description="First seen at or after this time.")
    ] = None,
    first_seen_before: Annotated[
        UtcDateTime | None, Query(description="First seen before this time.")
    ] = None,
    last_seen_after: Annotated[
        UtcDateTime | None, Query(description="Last seen at or after this time.")
    ] = None,
    last_seen_before: Annotated[
        UtcDateTime | None, Query(description="Last seen before this time.")
    ] = None,
    seen_after: Annotated[
        UtcDateTime | None,
        Query(deprecated=True, description="The former name of last_seen_after."),
    ] = None,
    seen_before: Annotated[
        UtcDateTime | None,
        Query(deprecated=True, description="The former name of last_seen_before."),
    ] = None,
) -> dict[str, Any]:
    """Indicators filtered by type, severity, state, source, feed, tags, malware family,
    first and last seen, and the start of their value; most recently changed first unless
    ``sort`` says otherwise."""
    result = service.search_indicators(
        session,
        limit=limit,
        cursor=cursor,
        sort=sort,
        indicator_type=indicator_type,
        severity=severity,
        is_active=is_active,
        source=source,
        feed=feed,
        tags=tag or (),
        malware_family=malware_family,
        q=q,
        first_seen_after=first_seen_after,
        first_seen_before=first_seen_before,
        last_seen_after=_one_of("last_seen_after", last_seen_after, "seen_after", seen_after),
        last_seen_before=_one_of("last_seen_before", last_seen_before, "seen_before", seen_before),
    )
    return page_of(result, IndicatorRead.model_validate)


def _one_of(
    name: str, value: datetime | None, former: str, former_value: datetime | None
) -> datetime | None:
    """A parameter given under its name or its former one, not both."""
    if value is not None and former_value is not None:
        raise Invalid(former, f"give {name} or {former}, not both")
    return value if value is not None else former_value


def _reading(request: Request, _caller: Identified) -> Iterator[Session]:
    # A lookup is a POST only because a batch does not fit a query string: it reads, so on
    # SQLite it runs beside writers instead of queueing for the write lock.
    database: Database = request.app.state.database
    with database.transaction(readonly=True) as session:
        yield session


ReadSession = Annotated[Session, Depends(_reading, scope="function")]


@router.post("/lookup", response_model=LookupResponse, summary="Look up observables")
def lookup(body: LookupRequest, principal: Reader, session: ReadSession) -> Response:
    """Which of these observables are known active indicators (exact, or IP inside a range).

    Up to 10,000 values a request; the matches come in the order of the values sent.
    """
    hits, unreadable = lookups.lookup(session, values=body.values)
    # Thousands of matches: encoded straight from the service's dataclasses, which hold
    # only what LookupResponse documents, rather than validated model by model.
    payload = orjson.dumps({"matches": hits, "unreadable": unreadable}, option=orjson.OPT_UTC_Z)
    return Response(payload, media_type="application/json")


@router.get("/{key:path}", response_model=IndicatorDetail, summary="Show an indicator")
def show(key: str, principal: Reader, session: DbSession) -> IndicatorDetail:
    """One indicator (by id or value, defanged or not), with what each source said and why
    it scores what it does (``metadata.score``)."""
    return _detail(session, service.get_indicator(session, key))


@router.patch("/{key:path}", response_model=IndicatorDetail, summary="Edit an indicator")
def edit(
    key: str, body: IndicatorUpdate, principal: IntelWriter, session: DbSession
) -> IndicatorDetail:
    """An analyst's edits: false positive, tags, confidence override, the records' status,
    the TLP marking.

    Only the fields sent change; ``confidence_override: null`` clears the override, ``tlp:
    null`` the marking. Every change is audited with its old and new values.
    """
    indicator = service.update_indicator(
        session, actor=principal.actor, key=key, changes=body.model_dump(exclude_unset=True)
    )
    return _detail(session, indicator)


def _detail(session: Session, indicator: ThreatIndicator) -> IndicatorDetail:
    return IndicatorDetail(
        indicator=IndicatorRead.model_validate(indicator),
        intelligence=[
            IntelligenceRead(**r) for r in service.intelligence_of(session, indicator.id)
        ],
    )


routers = [router]
