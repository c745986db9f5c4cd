"""Request-scoped dependencies: the transaction, the signed-in principal, its permissions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from krsn.config import Settings
from krsn.db import Database
from krsn.errors import Forbidden, KrsnError, RateLimited, Unauthorized
from krsn.identity.api_keys import authenticate_api_key
from krsn.identity.audit import Actor
from krsn.identity.models import Role, User
from krsn.security.csrf import csrf_matches
from krsn.security.permissions import Action, allowed_actions
from krsn.security.ratelimit import RateLimiter, rate_limit_key
from krsn.security.sessions import SessionData, SessionStore

SESSION_COOKIE = "krsn_session"
CSRF_COOKIE = "krsn_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes a user with a one-time password may still call.
PASSWORD_CHANGE_ROUTES = frozenset(
    {"/api/v1/auth/me", "/api/v1/auth/password", "/api/v1/auth/logout"}
)

ACTION_NEEDS = {
    Action.READ: "read access",
    Action.ACCOUNT: "access to your own account",
    Action.WRITE_OWN: "write access (the user, analyst or admin role)",
    Action.WRITE_INTEL: "write access to intelligence (the analyst or admin role)",
    Action.ADMIN: "the admin role",
}


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@dataclass
class Principal:
    """Who is calling: a user through a browser session or through an API key."""

    user_id: uuid.UUID
    username: str
    role: Role
    via: str
    scopes: list[str] | None
    api_key_id: uuid.UUID | None
    session: SessionData | None
    session_token: str | None
    must_change_password: bool
    ip_address: str | None
    user_agent: str | None

    @property
    def actions(self) -> frozenset[Action]:
        return allowed_actions(self.role, self.scopes)

    def can(self, action: Action) -> bool:
        return action in self.actions

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.user_id,
            via=self.via,
            ip_address=self.ip_address,
            user_agent=self.user_agent,
            api_key_id=self.api_key_id,
        )


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_actor(request: Request, user_id: uuid.UUID | None = None) -> Actor:
    """The actor of an unauthenticated request (a login attempt)."""
    return Actor(
        user_id=user_id,
        via="session",
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


def _endpoint(request: Request) -> str:
    """The route template of the request (``/api/v1/users/{user_id}``), for rate limits."""
    # Rebuilt from the path: a route included under prefixes knows only its own part.
    values = {str(v): k for k, v in request.path_params.items()}
    return "/".join(
        "{" + values[part] + "}" if part in values else part for part in request.url.path.split("/")
    )


def _enforce_rate_limit(request: Request, user_id: uuid.UUID, limit: int) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = limiter.hit(rate_limit_key(user_id, _endpoint(request)), limit=limit)
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {decision.limit} requests per minute on this endpoint reached; "
            f"retry in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )


def authenticate(request: Request) -> Principal:
    """The caller, from a bearer API key or a session cookie; 401 otherwise."""
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    ip, agent = client_ip(request), request.headers.get("user-agent")
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized("Send the API key as 'Authorization: Bearer <key>'.")
        with database.transaction() as session:
            identity = authenticate_api_key(
                session,
                plaintext=presented.strip(),
                ip_address=ip,
                user_agent=agent,
                endpoint=_endpoint(request),
            )
            user = None if isinstance(identity, str) else session.get(User, identity.user_id)
            role = user.role if user else None
            username = user.username if user else ""
        if isinstance(identity, str) or role is None:
            raise Unauthorized(identity if isinstance(identity, str) else "Unknown key owner.")
        limit = identity.rate_limits.get(_endpoint(request), identity.rate_limit)
        _enforce_rate_limit(request, identity.user_id, limit)
        return Principal(
            user_id=identity.user_id,
            username=username,
            role=role,
            via="api_key",
            scopes=identity.scopes,
            api_key_id=identity.key_id,
            session=None,
            session_token=None,
            must_change_password=False,
            ip_address=ip,
            user_agent=agent,
        )

    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized(
            "Sign in first (POST /api/v1/auth/login) or send an API key as "
            "'Authorization: Bearer <key>'."
        )
    store: SessionStore = request.app.state.session_store
    token = cookie
    data = store.get(token)
    if data is None:
        raise Unauthorized("Your session has expired or ended; sign in again.")
    with database.transaction(readonly=True) as session:
        user = session.get(User, data.user_id)
        active = bool(user and user.is_active)
        role = user.role if user else Role.VIEWER
        must_change = bool(user and user.must_change_password)
        username = user.username if user else data.username
    if not active:
        store.delete(token)
        raise Unauthorized("This account is disabled; ask an admin to enable it.")
    if request.method not in SAFE_METHODS and not csrf_matches(
        data.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            f"Missing or wrong {CSRF_HEADER} header: send the csrf_token you got at sign-in.",
            code="csrf",
        )
    if must_change and _endpoint(request) not in PASSWORD_CHANGE_ROUTES:
        raise Forbidden(
            "Change your one-time password first: POST /api/v1/auth/password.",
            code="password_change_required",
        )
    _enforce_rate_limit(request, data.user_id, settings.user_rate_limit_per_minute)
    return Principal(
        user_id=data.user_id,
        username=username,
        role=role,
        via="session",
        scopes=None,
        api_key_id=None,
        session=data,
        session_token=token,
        must_change_password=must_change,
        ip_address=ip,
        user_agent=agent,
    )


def _identify(request: Request) -> Principal | KrsnError | None:
    """The caller, the reason its credentials were refused, or None when it sent none.

    Failures are returned rather than raised so that public routes (sign-in) still work
    with a stale cookie; ``require`` raises them.
    """
    if not request.headers.get("authorization") and not request.cookies.get(SESSION_COOKIE):
        return None
    try:
        return authenticate(request)
    except KrsnError as exc:
        return exc


Identified = Annotated[Principal | KrsnError | None, Depends(_identify)]


def _transaction(request: Request, _caller: Identified) -> Iterator[Session]:
    # Depending on _identify makes authentication (which writes its own audit rows)
    # finish before this transaction takes SQLite's write lock.
    database: Database = request.app.state.database
    with database.transaction(readonly=request.method in SAFE_METHODS) as session:
        yield session


# The transaction ends with the endpoint, before the response is sent: a client never
# reads a success whose commit then failed.
DbSession = Annotated[Session, Depends(_transaction, scope="function")]


def require(action: Action | None) -> Any:
    """Let the request through only if the caller may do ``action`` (None: any caller)."""

    def check(caller: Identified) -> Principal:
        if isinstance(caller, KrsnError):
            raise caller
        if caller is None:
            raise Unauthorized(
                "Sign in first (POST /api/v1/auth/login) or send an API key as "
                "'Authorization: Bearer <key>'."
            )
        principal = caller
        if action is not None and not principal.can(action):
            how = (
                "this API key's scopes"
                if principal.via == "api_key"
                else (f"your role ({principal.role.value})")
            )
            raise Forbidden(f"Not allowed with {how}: this needs {ACTION_NEEDS[action]}.")
        return principal

    check.krsn_action = action  # type: ignore[attr-defined]
    return Depends(check)


Authenticated = Annotated[Principal, require(None)]
Reader = Annotated[Principal, require(Action.READ)]
AccountHolder = Annotated[Principal, require(Action.ACCOUNT)]
OwnWriter = Annotated[Principal, require(Action.WRITE_OWN)]
IntelWriter = Annotated[Principal, require(Action.WRITE_INTEL)]
Admin = Annotated[Principal, require(Action.ADMIN)]


def permission_of(dependency: Callable[..., Any]) -> Action | None:
    """The action a ``require`` dependency checks (used to prove every route has one)."""
    return getattr(dependency, "krsn_action", None)
