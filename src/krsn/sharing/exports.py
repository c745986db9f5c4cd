"""What the export routes share: the selection a caller asks for, resolved and released.

``GET /stix/export`` and ``GET /misp/export`` take the same selectors, answer the same
errors and keep back what TLP does not release to the caller (see :mod:`krsn.sharing.tlp`);
each then writes the selection in its own format. The command line exports as the operator
and has no bound on size; one request has.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, Query

from krsn.dependencies import DbSession, Reader
from krsn.errors import Invalid, NotFound
from krsn.sharing import selection as selections
from krsn.sharing import tlp as tlps
from krsn.sharing.selection import Selection

__all__ = ["MAX_INDICATORS", "WITHHELD_HEADER", "RequestedSelection", "requested_selection"]

MAX_INDICATORS: Final = 100_000
"""The most indicators one request exports; the command line has no such bound."""
WITHHELD_HEADER: Final = "X-Withheld-By-Tlp"
"""How many objects TLP kept from the caller: neither format has a place to say so."""


def requested_selection(
    principal: Reader,
    session: DbSession,
    collection: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="An IOC collection's name or id."),
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A threat actor's name or id: with its indicators, campaigns and "
            "techniques.",
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            description="A campaign's name or id: with its indicators, actors and techniques.",
        ),
    ] = None,
    report: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            description="A threat report's title or id: with the indicators it references.",
        ),
    ] = None,
    query: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="Indicator search filters as key=value pairs separated by commas: "
            "'type=ip,severity=high,tag=emotet'. Keys: type, severity, active, source, feed, "
            "tag (repeat for several), malware_family, q, first_seen_after, "
            "first_seen_before, last_seen_after, last_seen_before.",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_INDICATORS,
            description="At most this many indicators, most recently changed first.",
        ),
    ] = None,
) -> Selection:
    """Exactly one of collection, actor, campaign, report or query, resolved for the caller:
    what TLP keeps from them left out and counted, a container they may not receive
    refused, a private collection of someone else unseen."""
    audience = tlps.Audience(
        tlps.recipient_of(session, user_id=principal.user_id, role=principal.role),
        tlps.Channel.EXPORT,
    )
    chosen = selections.resolve(
        session,
        collection=collection,
        actor=actor,
        campaign=campaign,
        report=report,
        query=selections.parse_query(query) if query is not None else None,
        limit=limit,
        load_indicators=False,
        audience=audience,
    )
    if not selections.readable_by(chosen, user_id=principal.user_id, role=principal.role):
        # The same answer as for a name nobody uses: a private collection stays unseen.
        raise NotFound(f"No IOC collection is called {collection!r} (or has that id).")
    chosen.check_released()
    if limit is None and (chosen.indicator_total or 0) > MAX_INDICATORS:
        raise Invalid(
            "limit",
            f"the selection holds {chosen.indicator_total:,} indicators, more than one "
            f"request exports ({MAX_INDICATORS:,}): narrow it, give a limit, or export it "
            "from the command line",
        )
    return chosen


RequestedSelection = Annotated[Selection, Depends(requested_selection)]
"""A route parameter: the selection of the request's query, released to its caller."""
