"""REST routes of threat sources and feeds: the template gallery, CRUD, run now, file
upload, run history and the parsing-rules preview."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response

from krsn.config import Settings
from krsn.db import Database
from krsn.dependencies import DbSession, IntelWriter, Reader
from krsn.errors import Invalid
from krsn.feeds import service, sources
from krsn.feeds.models import ThreatFeed, ThreatSource, ThreatSourceType
from krsn.feeds.runner import ingest_upload, run_feed
from krsn.feeds.schemas import (
    CredentialRead,
    FeedCreate,
    FeedRead,
    FeedRun,
    FeedRuns,
    FeedTemplateRead,
    FeedUpdate,
    FeedUpload,
    PreviewRequest,
    PreviewResponse,
    PreviewRow,
    SamplePreviewRequest,
    TemplateFeedCreate,
    ThreatSourceCreate,
    ThreatSourceRead,
    ThreatSourceUpdate,
)
from krsn.feeds.templates import list_templates
from krsn.indicators.warninglists import default_index
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

FeedKey = Annotated[str, Path(min_length=1, max_length=255, description="The feed's id or name.")]

templates_router = APIRouter(prefix="/feed-templates", tags=["feeds"], route_class=ApiRoute)
sources_router = APIRouter(prefix="/threat-sources", tags=["threat sources"], route_class=ApiRoute)
feeds_router = APIRouter(prefix="/feeds", tags=["feeds"], route_class=ApiRoute)
preview_router = APIRouter(tags=["feeds"], route_class=ApiRoute)


def _source_read(source: ThreatSource) -> ThreatSourceRead:
    shown = ThreatSourceRead.model_validate(source)
    shown.authentication_config_keys = sources.authentication_keys(source)
    summary = sources.credential_summary(source.authentication_config)
    shown.authentication = CredentialRead(**summary) if summary is not None else None
    return shown


def _feed_read(feed: ThreatFeed, source_name: str | None) -> FeedRead:
    stats = feed.feed_statistics or {}
    runs = stats.get("runs") or []
    return FeedRead(
        id=feed.id,
        name=feed.feed_name,
        url=feed.feed_url,
        format=feed.format.value if feed.format else None,
        source_id=feed.source_id,
        source=source_name,
        template=stats.get("template"),
        is_active=feed.is_active,
        update_frequency_minutes=feed.update_frequency_minutes,
        default_confidence=stats.get("default_confidence"),
        parsing_rules=feed.parsing_rules,
        last_successful_update=feed.last_successful_update,
        next_scheduled_update=feed.next_scheduled_update,
        last_run=FeedRun.model_validate(runs[0]) if runs else None,
    )


# --- templates ------------------------------------------------------------------------------


@templates_router.get("", response_model=list[FeedTemplateRead], summary="List feed templates")
def templates(principal: Reader) -> list[FeedTemplateRead]:
    """The built-in feeds that can be added by name, with the parameters each takes."""
    return [FeedTemplateRead.model_validate(t.model_dump(mode="json")) for t in list_templates()]


# --- threat sources -------------------------------------------------------------------------


@sources_router.get("", response_model=Page[ThreatSourceRead], summary="List threat sources")
def list_sources(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    is_active: bool | None = None,
    source_type: ThreatSourceType | None = None,
    q: Annotated[str | None, Query(max_length=255, description="Part of the name.")] = None,
) -> dict[str, Any]:
    """Providers by name."""
    result = sources.list_sources(
        session, limit=limit, cursor=cursor, is_active=is_active, source_type=source_type, q=q
    )
    return page_of(result, _source_read)


@sources_router.post(
    "", response_model=ThreatSourceRead, status_code=201, summary="Create a threat source"
)
def create_source(
    body: ThreatSourceCreate, principal: IntelWriter, session: DbSession
) -> ThreatSourceRead:
    """A new provider; its ``authentication_config`` (a header, bearer, basic or query
    credential its feeds are fetched with) is stored encrypted; only its type and names are
    ever shown."""
    source = sources.create_source(
        session, actor=principal.actor, name=body.name, values=body.model_dump(exclude={"name"})
    )
    return _source_read(source)


@sources_router.get("/{source_id}", response_model=ThreatSourceRead, summary="Show a threat source")
def get_source(source_id: uuid.UUID, principal: Reader, session: DbSession) -> ThreatSourceRead:
    return _source_read(sources.get_source(session, source_id))


@sources_router.patch(
    "/{source_id}", response_model=ThreatSourceRead, summary="Change a threat source"
)
def update_source(
    source_id: uuid.UUID, body: ThreatSourceUpdate, principal: IntelWriter, session: DbSession
) -> ThreatSourceRead:
    """Change the fields given; ``authentication_config`` is replaced whole (null clears it)."""
    source = sources.update_source(
        session,
        actor=principal.actor,
        source_id=source_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return _source_read(source)


@sources_router.delete("/{source_id}", status_code=204, summary="Delete a threat source")
def delete_source(source_id: uuid.UUID, principal: IntelWriter, session: DbSession) -> Response:
    """Delete a provider with its feeds; the intelligence they brought is kept."""
    sources.delete_source(session, actor=principal.actor, source_id=source_id)
    return Response(status_code=204)


# --- feeds ----------------------------------------------------------------------------------


@feeds_router.get("", response_model=Page[FeedRead], summary="List feeds")
def list_feeds(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    source_id: uuid.UUID | None = None,
    is_active: bool | None = None,
) -> dict[str, Any]:
    """Feeds by name, each with its provider's name and its last run."""
    result, names = service.page_feeds(
        session, limit=limit, cursor=cursor, source_id=source_id, is_active=is_active
    )
    return page_of(result, lambda feed: _feed_read(feed, names.get(feed.source_id)))


@feeds_router.post("", response_model=FeedRead, status_code=201, summary="Add a feed")
def create_feed(body: FeedCreate, principal: IntelWriter, session: DbSession) -> FeedRead:
    """Add a feed from a template (``template``, ``parameters``, optional ``name`` and the
    provider's ``authentication_config``) or by hand (``name``, ``url``, ``format``,
    ``parsing_rules``, ``source``); its first run is due at once."""
    if isinstance(body, TemplateFeedCreate):
        feed = service.add_from_template(
            session,
            actor=principal.actor,
            template=body.template,
            name=body.name,
            values=body.parameters,
            credential=body.authentication_config.model_dump()
            if body.authentication_config is not None
            else None,
        )
    else:
        feed = service.create_feed(
            session,
            actor=principal.actor,
            name=body.name,
            url=body.url,
            format_name=body.format.value,
            parsing_rules=body.parsing_rules,
            source_name=body.source,
            reliability=body.reliability,
            default_confidence=body.default_confidence,
            update_frequency_minutes=body.update_frequency_minutes or service.DEFAULT_FREQUENCY,
        )
    return _feed_read(feed, service.source_name(session, feed))


@feeds_router.get("/{feed}", response_model=FeedRead, summary="Show a feed")
def get_feed(feed: FeedKey, principal: Reader, session: DbSession) -> FeedRead:
    row = service.get_feed(session, feed)
    return _feed_read(row, service.source_name(session, row))


@feeds_router.patch("/{feed}", response_model=FeedRead, summary="Change a feed")
def update_feed(
    feed: FeedKey, body: FeedUpdate, principal: IntelWriter, session: DbSession
) -> FeedRead:
    """Turn a feed on or off, or change its URL, rules, frequency or default confidence."""
    row = service.update_feed(
        session, actor=principal.actor, feed=feed, changes=body.model_dump(exclude_unset=True)
    )
    return _feed_read(row, service.source_name(session, row))


@feeds_router.delete("/{feed}", status_code=204, summary="Delete a feed")
def delete_feed(feed: FeedKey, principal: IntelWriter, session: DbSession) -> Response:
    """Delete a feed; the intelligence it brought is kept."""
    service.delete_feed(session, actor=principal.actor, feed=feed)
    return Response(status_code=204)


@feeds_router.post("/{feed}/run", response_model=FeedRun, summary="Run a feed now")
def run_now(feed: FeedKey, principal: IntelWriter, request: Request) -> dict[str, Any]:
    """Download, parse and ingest the feed now, in one attempt, and return the run record; a
    failed run is still a 200 whose ``status`` is ``failed`` and whose ``error`` says why."""
    # No request transaction here: the run commits batch by batch in its own.
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    return run_feed(
        database,
        feed=feed,
        # Someone is waiting on this answer: no backoff between retries; the scheduler
        # retries with backoff on its runs.
        settings=settings.model_copy(update={"feed_fetch_retries": 0}),
        actor=principal.actor,
        suppressor=default_index(settings),
    )


@feeds_router.post(
    "/{feed}/upload", response_model=FeedRun, summary="Ingest a file as a run of a feed"
)
def upload(
    feed: FeedKey,
    principal: IntelWriter,
    request: Request,
    form: Annotated[FeedUpload, Form()],
) -> dict[str, Any]:
    """Read an uploaded file exactly as the feed's download would be read (its format and
    parsing rules), credit it to the feed's provider, and record it in the feed's run
    history; the feed's schedule is unchanged. A file that cannot be read is a 422 whose
    ``run`` is the failed run recorded in the history."""
    # No request transaction here: the run commits batch by batch in its own.
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    run = ingest_upload(
        database,
        feed=feed,
        body=form.file.file,
        file_name=form.file.filename,
        settings=settings,
        actor=principal.actor,
        suppressor=default_index(settings),
    )
    if run.get("status") == "failed":
        refused = Invalid("file", str(run.get("error")))
        refused.extra["run"] = FeedRun.model_validate(run).model_dump(mode="json")
        raise refused
    return run


@feeds_router.get("/{feed}/runs", response_model=FeedRuns, summary="A feed's run history")
def runs(feed: FeedKey, principal: Reader, session: DbSession) -> FeedRuns:
    """The feed's recent runs, newest first."""
    row = service.get_feed(session, feed)
    return FeedRuns(
        feed_id=row.id,
        feed=row.feed_name,
        runs=[FeedRun.model_validate(run) for run in service.feed_runs(row)],
    )


@feeds_router.post(
    "/{feed}/preview", response_model=PreviewResponse, summary="Preview parsing rules"
)
def preview(
    feed: FeedKey, body: PreviewRequest, principal: Reader, session: DbSession, request: Request
) -> PreviewResponse:
    """What the feed's rules (or ``parsing_rules`` given here) make of a sample: each row's
    value, kind, stored form or the reason it would be refused. Nothing is stored."""
    row = service.get_feed(session, feed)
    rows, truncated = service.preview(
        row,
        sample=body.sample,
        parsing_rules=body.parsing_rules,
        suppressor=default_index(request.app.state.settings),
    )
    return _previewed(rows, truncated)


def _previewed(rows: list[dict[str, Any]], truncated: bool) -> PreviewResponse:
    shown = [PreviewRow(**r) for r in rows]
    rejected = sum(1 for r in shown if r.rejected is not None)
    return PreviewResponse(
        rows=shown, accepted=len(shown) - rejected, rejected=rejected, truncated=truncated
    )


@preview_router.post(
    "/feed-preview", response_model=PreviewResponse, summary="Preview a new feed's parsing"
)
def preview_new(body: SamplePreviewRequest, principal: Reader, request: Request) -> PreviewResponse:
    """What a feed not saved yet (its format and rules) would make of a sample, so that the
    rules can be tried before the feed exists. Nothing is stored."""
    rows, truncated = service.preview_sample(
        body.format.value,
        sample=body.sample,
        parsing_rules=body.parsing_rules,
        suppressor=default_index(request.app.state.settings),
    )
    return _previewed(rows, truncated)


routers = [templates_router, sources_router, feeds_router, preview_router]
