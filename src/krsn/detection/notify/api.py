"""REST routes of notification channels and notifications.

Users manage their own channels; analysts also the channels of correlation rules; admins
every channel. A channel or notification a caller may not see answers 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from krsn.config import Settings
from krsn.db import Database
from krsn.dependencies import DbSession, OwnWriter, Principal, Reader, get_database, get_settings
from krsn.detection.models import NotificationStatus, NotificationType
from krsn.detection.notify import delivery, service
from krsn.detection.notify.schemas import (
    AttemptRead,
    ChannelCreate,
    ChannelCreated,
    ChannelRead,
    ChannelUpdate,
    NotificationDetail,
    NotificationRead,
)
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/notifications", tags=["notifications"], route_class=ApiRoute)

AppSettings = Annotated[Settings, Depends(get_settings)]
AppDatabase = Annotated[Database, Depends(get_database)]
DISPATCHER_STATE = "notification_dispatcher"
"""Where the app keeps its :class:`NotificationDispatcher`, woken when a retry is queued."""


def _audience(principal: Principal) -> service.Audience:
    return service.Audience.of(user_id=principal.user_id, role=principal.role)


# --- channels (before /{notification_id}, which would otherwise take "channels") -----------


@router.get("/channels", response_model=Page[ChannelRead], summary="List notification channels")
def list_channels(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    notification_type: Annotated[
        NotificationType | None, Query(alias="type", description="email, webhook, slack, sms.")
    ] = None,
    rule_id: Annotated[uuid.UUID | None, Query(description="Channels of this rule.")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Channels of this user.")] = None,
    is_active: Annotated[bool | None, Query(description="Only on or only off.")] = None,
) -> dict[str, Any]:
    """Your channels (analysts: also the rules'; admins: all), oldest first."""
    result = service.list_channels(
        session,
        audience=_audience(principal),
        limit=limit,
        cursor=cursor,
        user_id=user_id,
        rule_id=rule_id,
        notification_type=notification_type,
        is_active=is_active,
    )
    return page_of(result, ChannelRead.of)


@router.post(
    "/channels",
    response_model=ChannelCreated,
    status_code=201,
    summary="Create a notification channel",
)
def create_channel(
    body: ChannelCreate, principal: OwnWriter, session: DbSession, settings: AppSettings
) -> ChannelCreated:
    """A channel for yourself, or for a rule (analysts and admins). A URL on a private,
    loopback or link-local address is refused unless an admin allowed it. A webhook's
    signing secret, when you give none, is generated and shown in this answer only."""
    channel, generated = service.create_channel(
        session,
        actor=principal.actor,
        audience=_audience(principal),
        settings=settings,
        name=body.name,
        notification_type=body.notification_type,
        config=body.config.model_dump(mode="json", exclude_none=True),
        min_severity=body.min_severity,
        is_active=body.is_active,
        rule_id=body.rule_id,
        user_id=body.user_id,
    )
    return ChannelCreated.of(channel, signing_secret=generated.get("signing_secret"))


@router.get(
    "/channels/{channel_id}", response_model=ChannelRead, summary="Show a notification channel"
)
def get_channel(channel_id: uuid.UUID, principal: Reader, session: DbSession) -> ChannelRead:
    return ChannelRead.of(service.get_channel(session, channel_id, audience=_audience(principal)))


@router.patch(
    "/channels/{channel_id}", response_model=ChannelRead, summary="Change a notification channel"
)
def update_channel(
    channel_id: uuid.UUID,
    body: ChannelUpdate,
    principal: OwnWriter,
    session: DbSession,
    settings: AppSettings,
) -> ChannelRead:
    """Change the fields given. A new config replaces the old; secret fields you leave out
    (a webhook's signing secret and headers, a Slack URL) keep their stored values."""
    channel = service.get_channel(session, channel_id, audience=_audience(principal))
    service.update_channel(
        session,
        channel,
        actor=principal.actor,
        settings=settings,
        changes=body.model_dump(exclude_unset=True),
    )
    return ChannelRead.of(channel)


@router.delete("/channels/{channel_id}", status_code=204, summary="Delete a notification channel")
def delete_channel(channel_id: uuid.UUID, principal: OwnWriter, session: DbSession) -> Response:
    """Delete a channel; the notifications it carried stay, without a channel."""
    channel = service.get_channel(session, channel_id, audience=_audience(principal))
    service.delete_channel(session, channel, actor=principal.actor)
    return Response(status_code=204)


@router.post(
    "/channels/{channel_id}/test",
    response_model=AttemptRead,
    summary="Send a test message on a channel",
)
def test_channel(
    channel_id: uuid.UUID,
    principal: OwnWriter,
    database: AppDatabase,
    settings: AppSettings,
) -> AttemptRead:
    """Send a test message now and answer with the outcome (delivered, sent, or failed and
    why). No transaction is open while it is sent."""
    return delivery.send_test(
        database,
        settings,
        channel_id=channel_id,
        audience=_audience(principal),
        actor=principal.actor,
    )


# --- notifications ---------------------------------------------------------------------------


@router.get("", response_model=Page[NotificationRead], summary="List notifications")
def list_notifications(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[
        NotificationStatus | None, Query(description="pending, sent, delivered or failed.")
    ] = None,
    channel_id: Annotated[uuid.UUID | None, Query(description="Sent on this channel.")] = None,
    alert_id: Annotated[uuid.UUID | None, Query(description="About this alert.")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Admins: this user's.")] = None,
) -> dict[str, Any]:
    """Your notifications (analysts: also the rules'; admins: all), newest first."""
    result = service.list_notifications(
        session,
        audience=_audience(principal),
        limit=limit,
        cursor=cursor,
        status=status,
        channel_id=channel_id,
        alert_id=alert_id,
        user_id=user_id,
    )
    return page_of(result, NotificationRead.model_validate)


@router.get("/{notification_id}", response_model=NotificationDetail, summary="Show a notification")
def get_notification(
    notification_id: uuid.UUID, principal: Reader, session: DbSession
) -> NotificationDetail:
    return NotificationDetail.model_validate(
        service.get_notification(session, notification_id, audience=_audience(principal))
    )


@router.post(
    "/{notification_id}/retry",
    response_model=NotificationRead,
    summary="Queue a failed notification again",
)
def retry_notification(
    notification_id: uuid.UUID,
    principal: OwnWriter,
    session: DbSession,
    request: Request,
    background: BackgroundTasks,
) -> NotificationRead:
    """A failed notification goes back to pending with a fresh set of attempts."""
    notification = service.get_notification(session, notification_id, audience=_audience(principal))
    service.retry_notification(session, notification, actor=principal.actor)
    dispatcher = getattr(request.app.state, DISPATCHER_STATE, None)
    if dispatcher is not None:
        # After the response, so after the commit: the pass it starts sees the row.
        background.add_task(dispatcher.wake)
    return NotificationRead.model_validate(notification)
