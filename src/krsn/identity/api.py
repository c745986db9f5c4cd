"""REST routes of identity and access: auth, users, API keys, organizations, audit, config."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from krsn.config import Settings
from krsn.dependencies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AccountHolder,
    Admin,
    Authenticated,
    DbSession,
    Reader,
    request_actor,
)
from krsn.errors import Forbidden, Locked, Unauthorized
from krsn.identity import api_keys, audit, auth, configuration, organizations, users
from krsn.identity.audit_query import audit_page
from krsn.identity.models import AuditSeverity, ConfigCategory, Role
from krsn.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuditLogRead,
    ConfigRead,
    ConfigWrite,
    LoginRequest,
    LoginResponse,
    MeResponse,
    MfaCode,
    MfaDisable,
    MfaEnabled,
    MfaEnrolment,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    PasswordChange,
    PasswordReset,
    RoleRead,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
)
from krsn.routing import ApiRoute
from krsn.schemas import Cursor, Limit, Page, UtcDateTime, page_of
from krsn.security import mfa
from krsn.security.permissions import ROLE_ACTIONS, ROLE_DESCRIPTIONS, Action
from krsn.security.sessions import SessionStore

auth_router = APIRouter(prefix="/auth", tags=["auth"], route_class=ApiRoute)
users_router = APIRouter(prefix="/users", tags=["users"], route_class=ApiRoute)
keys_router = APIRouter(prefix="/api-keys", tags=["api keys"], route_class=ApiRoute)
orgs_router = APIRouter(prefix="/organizations", tags=["organizations"], route_class=ApiRoute)
audit_router = APIRouter(prefix="/audit-logs", tags=["audit"], route_class=ApiRoute)
config_router = APIRouter(
    prefix="/system/config", tags=["system configuration"], route_class=ApiRoute
)
roles_router = APIRouter(prefix="/roles", tags=["roles"], route_class=ApiRoute)


def _page(result: Any, schema: type[Any]) -> dict[str, Any]:
    return page_of(result, schema.model_validate)


def _set_session_cookies(
    response: Response, settings: Settings, token: str, csrf_token: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    # Readable by the UI's script, which echoes it in the X-CSRF-Token header.
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token,
        max_age=settings.session_ttl_seconds,
        httponly=False,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )


# --- auth -------------------------------------------------------------------------------


@auth_router.post("/login", response_model=LoginResponse, summary="Sign in")
def login(body: LoginRequest, request: Request, response: Response) -> LoginResponse:
    """Sign in with a username (or e-mail) and password, plus a code once MFA is on."""
    settings: Settings = request.app.state.settings
    database = request.app.state.database
    with database.transaction() as session:
        outcome = auth.login(
            session,
            login_name=body.username,
            password=body.password,
            otp=body.otp,
            actor=request_actor(request),
            max_failures=settings.login_max_failures,
            lockout_minutes=settings.lockout_minutes,
        )
        user = UserRead.model_validate(outcome.user) if outcome.user else None
    # The failed attempt and its audit row are committed before we answer.
    if user is None:
        if outcome.failure == auth.LoginFailure.LOCKED:
            raise Locked(outcome.message)
        if outcome.failure == auth.LoginFailure.DISABLED:
            raise Forbidden(outcome.message)
        raise Unauthorized(
            outcome.message,
            mfa_required=outcome.failure
            in (auth.LoginFailure.MFA_REQUIRED, auth.LoginFailure.MFA_WRONG)
            or None,
        )
    store: SessionStore = request.app.state.session_store
    token, data = store.create(user_id=user.id, username=user.username, role=user.role.value)
    _set_session_cookies(response, settings, token, data.csrf_token)
    return LoginResponse(
        user=user,
        csrf_token=data.csrf_token,
        expires_at=data.expires_at,
        must_change_password=user.must_change_password,
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
def logout(principal: AccountHolder, session: DbSession, request: Request) -> Response:
    """End this browser session (API keys are revoked separately)."""
    if principal.session_token:
        request.app.state.session_store.delete(principal.session_token, session=session)
    audit.record(
        session,
        actor=principal.actor,
        action="auth.logout",
        resource_type="user",
        resource_id=principal.user_id,
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@auth_router.get("/me", response_model=MeResponse, summary="Who am I")
def me(principal: Authenticated, session: DbSession) -> MeResponse:
    """The signed-in user, how they authenticated, and what they may do."""
    user = users.get_user(session, principal.user_id)
    return MeResponse(
        user=UserRead.model_validate(user),
        authenticated_via=principal.via,
        scopes=principal.scopes,
        permissions=sorted(a.value for a in principal.actions),
    )


@auth_router.post("/password", response_model=UserRead, summary="Change my password")
def change_password(
    body: PasswordChange,
    principal: AccountHolder,
    session: DbSession,
    request: Request,
    response: Response,
) -> UserRead:
    """Change your password; every other session of yours ends."""
    user = auth.change_password(
        session,
        actor=principal.actor,
        user_id=principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    store: SessionStore = request.app.state.session_store
    store.delete_for_user(principal.user_id, session=session)
    if principal.via == "session":
        token, data = store.create(
            user_id=user.id, username=user.username, role=user.role.value, session=session
        )
        _set_session_cookies(response, request.app.state.settings, token, data.csrf_token)
        response.headers["X-CSRF-Token"] = data.csrf_token
    return UserRead.model_validate(user)


@auth_router.post("/mfa/enroll", response_model=MfaEnrolment, summary="Start MFA enrolment")
def mfa_enroll(principal: AccountHolder, session: DbSession) -> MfaEnrolment:
    """A new TOTP secret with its QR code; MFA turns on once a code is verified."""
    secret, uri = auth.start_mfa_enrolment(
        session, actor=principal.actor, user_id=principal.user_id
    )
    return MfaEnrolment(secret=secret, otpauth_uri=uri, qr_svg=mfa.qr_svg_data_uri(uri))


@auth_router.post("/mfa/verify", response_model=MfaEnabled, summary="Turn MFA on")
def mfa_verify(body: MfaCode, principal: AccountHolder, session: DbSession) -> MfaEnabled:
    """Prove a code from the authenticator; returns recovery codes, shown once."""
    codes = auth.verify_mfa_enrolment(
        session, actor=principal.actor, user_id=principal.user_id, code=body.code
    )
    return MfaEnabled(recovery_codes=codes)


@auth_router.post("/mfa/disable", response_model=UserRead, summary="Turn MFA off")
def mfa_disable(body: MfaDisable, principal: AccountHolder, session: DbSession) -> UserRead:
    """Turn MFA off with your password and a current (or recovery) code."""
    user = auth.disable_mfa(
        session,
        actor=principal.actor,
        user_id=principal.user_id,
        password=body.password,
        code=body.code,
    )
    return UserRead.model_validate(user)


# --- users --------------------------------------------------------------------------------


@users_router.get("", response_model=Page[UserRead], summary="List users")
def list_users(
    principal: Admin,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    role: Role | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=255)] = None,
    organization_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    result = users.list_users(
        session,
        limit=limit,
        cursor=cursor,
        role=role,
        is_active=is_active,
        q=q,
        organization_id=organization_id,
    )
    return _page(result, UserRead)


@users_router.post("", response_model=UserCreated, status_code=201, summary="Create a user")
def create_user(body: UserCreate, principal: Admin, session: DbSession) -> UserCreated:
    """Create a user; without a password a one-time one is returned, to change at login."""
    user, one_time = users.create_user(session, actor=principal.actor, **body.model_dump())
    return UserCreated(user=UserRead.model_validate(user), one_time_password=one_time)


@users_router.get("/{user_id}", response_model=UserRead, summary="Show a user")
def get_user(user_id: uuid.UUID, principal: Admin, session: DbSession) -> UserRead:
    return UserRead.model_validate(users.get_user(session, user_id))


@users_router.patch("/{user_id}", response_model=UserRead, summary="Change a user")
def update_user(
    user_id: uuid.UUID, body: UserUpdate, principal: Admin, session: DbSession, request: Request
) -> UserRead:
    """Change role, state or details; disabling ends the user's sessions."""
    changes = body.model_dump(exclude_unset=True)
    user = users.update_user(session, actor=principal.actor, user_id=user_id, changes=changes)
    if changes.get("is_active") is False:
        request.app.state.session_store.delete_for_user(user_id, session=session)
    return UserRead.model_validate(user)


@users_router.delete("/{user_id}", status_code=204, summary="Delete a user")
def delete_user(
    user_id: uuid.UUID, principal: Admin, session: DbSession, request: Request
) -> Response:
    users.delete_user(session, actor=principal.actor, user_id=user_id)
    request.app.state.session_store.delete_for_user(user_id, session=session)
    return Response(status_code=204)


@users_router.post(
    "/{user_id}/reset-password", response_model=PasswordReset, summary="Reset a user's password"
)
def reset_password(
    user_id: uuid.UUID, principal: Admin, session: DbSession, request: Request
) -> PasswordReset:
    """A one-time password for the user, who must change it at next login."""
    user, password = users.reset_password(session, actor=principal.actor, user_id=user_id)
    request.app.state.session_store.delete_for_user(user_id, session=session)
    return PasswordReset(user=UserRead.model_validate(user), one_time_password=password)


# --- API keys -------------------------------------------------------------------------------


@keys_router.get("", response_model=Page[ApiKeyRead], summary="List API keys")
def list_keys(
    principal: AccountHolder,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    all_users: Annotated[
        bool, Query(alias="all", description="Admins: every user's keys.")
    ] = False,
) -> dict[str, Any]:
    owner = None if all_users and principal.role == Role.ADMIN else principal.user_id
    return _page(
        api_keys.list_api_keys(session, owner_id=owner, limit=limit, cursor=cursor), ApiKeyRead
    )


@keys_router.post("", response_model=ApiKeyCreated, status_code=201, summary="Create an API key")
def create_key(body: ApiKeyCreate, principal: AccountHolder, session: DbSession) -> ApiKeyCreated:
    """A new key for yourself; the key is in this answer only."""
    key, plaintext = api_keys.create_api_key(
        session, actor=principal.actor, user_id=principal.user_id, **body.model_dump()
    )
    return ApiKeyCreated(api_key=ApiKeyRead.model_validate(key), key=plaintext)


def _owner_filter(principal: Any) -> uuid.UUID | None:
    return None if principal.role == Role.ADMIN else principal.user_id


@keys_router.get("/{key_id}", response_model=ApiKeyRead, summary="Show an API key")
def get_key(key_id: uuid.UUID, principal: AccountHolder, session: DbSession) -> ApiKeyRead:
    return ApiKeyRead.model_validate(
        api_keys.get_api_key(session, key_id, owner_id=_owner_filter(principal))
    )


@keys_router.delete("/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key")
def revoke_key(key_id: uuid.UUID, principal: AccountHolder, session: DbSession) -> ApiKeyRead:
    key = api_keys.revoke_api_key(
        session, actor=principal.actor, key_id=key_id, owner_id=_owner_filter(principal)
    )
    return ApiKeyRead.model_validate(key)


# --- organizations --------------------------------------------------------------------------


@orgs_router.get("", response_model=Page[OrganizationRead], summary="List organizations")
def list_orgs(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, Any]:
    return _page(
        organizations.list_organizations(session, limit=limit, cursor=cursor, q=q), OrganizationRead
    )


@orgs_router.post(
    "", response_model=OrganizationRead, status_code=201, summary="Create an organization"
)
def create_org(body: OrganizationCreate, principal: Admin, session: DbSession) -> OrganizationRead:
    return OrganizationRead.model_validate(
        organizations.create_organization(session, actor=principal.actor, **body.model_dump())
    )


@orgs_router.get(
    "/{organization_id}", response_model=OrganizationRead, summary="Show an organization"
)
def get_org(organization_id: uuid.UUID, principal: Reader, session: DbSession) -> OrganizationRead:
    return OrganizationRead.model_validate(organizations.get_organization(session, organization_id))


@orgs_router.patch(
    "/{organization_id}", response_model=OrganizationRead, summary="Change an organization"
)
def update_org(
    organization_id: uuid.UUID, body: OrganizationUpdate, principal: Admin, session: DbSession
) -> OrganizationRead:
    return OrganizationRead.model_validate(
        organizations.update_organization(
            session,
            actor=principal.actor,
            organization_id=organization_id,
            changes=body.model_dump(exclude_unset=True),
        )
    )


@orgs_router.delete("/{organization_id}", status_code=204, summary="Delete an organization")
def delete_org(organization_id: uuid.UUID, principal: Admin, session: DbSession) -> Response:
    organizations.delete_organization(
        session, actor=principal.actor, organization_id=organization_id
    )
    return Response(status_code=204)


# --- audit logs -----------------------------------------------------------------------------


@audit_router.get("", response_model=Page[AuditLogRead], summary="Search the audit log")
def list_audit(
    principal: Admin,
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    user_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    resource_id: Annotated[str | None, Query(max_length=255)] = None,
    severity: AuditSeverity | None = None,
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
) -> dict[str, Any]:
    """Audit rows, newest first, filtered by user, action, resource, severity and time."""
    result = audit_page(
        session,
        limit=limit,
        cursor=cursor,
        user_id=user_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        severity=severity,
        since=since,
        until=until,
    )
    return _page(result, AuditLogRead)


# --- system configuration -------------------------------------------------------------------


@config_router.get("", response_model=Page[ConfigRead], summary="List configuration")
def list_config(
    principal: Admin,
    session: DbSession,
    limit: Limit = 100,
    cursor: Cursor = None,
    category: ConfigCategory | None = None,
) -> dict[str, Any]:
    return _page(
        configuration.list_config(session, category=category, limit=limit, cursor=cursor),
        ConfigRead,
    )


@config_router.get("/{key}", response_model=ConfigRead, summary="Show a configuration value")
def get_config(key: str, principal: Admin, session: DbSession) -> ConfigRead:
    return ConfigRead.model_validate(configuration.get_config(session, key))


@config_router.put("/{key}", response_model=ConfigRead, summary="Set a configuration value")
def set_config(key: str, body: ConfigWrite, principal: Admin, session: DbSession) -> ConfigRead:
    entry = configuration.set_config(
        session,
        actor=principal.actor,
        key=key,
        value=body.value,
        description=body.description,
        category=body.category,
        updated_by=principal.user_id,
    )
    return ConfigRead.model_validate(entry)


@config_router.delete("/{key}", status_code=204, summary="Delete a configuration value")
def delete_config(key: str, principal: Admin, session: DbSession) -> Response:
    configuration.delete_config(session, actor=principal.actor, key=key)
    return Response(status_code=204)


# --- roles ----------------------------------------------------------------------------------


@roles_router.get("", response_model=list[RoleRead], summary="List roles and their permissions")
def list_roles(principal: Reader) -> list[RoleRead]:
    """Every role, most privileged first, with the actions it allows: the permission matrix."""
    return [
        RoleRead(
            role=role,
            actions=[action for action in Action if action in ROLE_ACTIONS[role]],
            description=ROLE_DESCRIPTIONS[role],
        )
        for role in Role
    ]


routers = [
    auth_router,
    users_router,
    keys_router,
    orgs_router,
    audit_router,
    config_router,
    roles_router,
]
