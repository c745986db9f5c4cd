"""Operations on users: create, list, change role, disable, reset a password."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, or_, select, true
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import AuditSeverity, Organization, Role, User
from krsn.security.passwords import check_password_policy, generate_password, hash_password


def get_user(session: Session, user_id: uuid.UUID) -> User:
    """The user with this id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def find_user(session: Session, login: str) -> User | None:
    """The user whose username or e-mail is ``login`` (case-insensitive)."""
    login = login.strip().lower()
    return session.scalar(
        select(User).where(or_(func.lower(User.username) == login, func.lower(User.email) == login))
    )


def get_user_by_login(session: Session, login: str) -> User:
    user = find_user(session, login)
    if user is None:
        raise NotFound(f"No user with username or e-mail {login!r}.")
    return user


def _check_unique(
    session: Session, *, username: str | None, email: str | None, exclude: uuid.UUID | None = None
) -> None:
    others = User.id != exclude if exclude is not None else true()
    if username is not None:
        clash = session.scalar(
            select(User.id).where(
                or_(User.username == username, func.lower(User.username) == username.lower()),
                others,
            )
        )
        if clash:
            raise Conflict(f"The username {username!r} is taken.", field="username")
    if email is not None:
        # Emails are stored lower-cased by Python; the exact match is what the constraint sees.
        clash = session.scalar(
            select(User.id).where(
                or_(User.email == email.lower(), func.lower(User.email) == email.lower()),
                others,
            )
        )
        if clash:
            raise Conflict(f"The e-mail {email!r} is already registered.", field="email")


def _check_organization(session: Session, organization_id: uuid.UUID | None) -> None:
    if organization_id is not None and session.get(Organization, organization_id) is None:
        raise Invalid("organization_id", f"no organization with id {organization_id}")


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    email: str,
    role: Role = Role.USER,
    password: str | None = None,
    full_name: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    organization_id: uuid.UUID | None = None,
) -> tuple[User, str | None]:
    """A new user; without a password it gets a one-time one, returned once, to change."""
    _check_unique(session, username=username, email=email)
    _check_organization(session, organization_id)
    one_time = None
    if password is None:
        one_time = password = generate_password()
    else:
        check_password_policy(password, username=username, email=email)
    user = User(
        username=username,
        email=email.lower(),
        role=role,
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
        must_change_password=one_time is not None,
        full_name=full_name,
        first_name=first_name,
        last_name=last_name,
        organization_id=organization_id,
    )
    audit.created(session, user, actor=actor, resource_type="user")
    return user, one_time


def user_query(
    *,
    role: Role | None = None,
    is_active: bool | None = None,
    q: str | None = None,
    organization_id: uuid.UUID | None = None,
) -> Select[User]:
    """Users matching the filters."""
    statement = select(User)
    if role is not None:
        statement = statement.where(User.role == role)
    if is_active is not None:
        statement = statement.where(User.is_active == is_active)
    if organization_id is not None:
        statement = statement.where(User.organization_id == organization_id)
    if q:
        pattern = f"%{q.lower()}%"
        statement = statement.where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(User.email).like(pattern),
                func.lower(func.coalesce(User.full_name, "")).like(pattern),
            )
        )
    return statement


def list_users(
    session: Session, *, limit: int = 50, cursor: str | None = None, **filters: Any
) -> PageResult[User]:
    """A page of users, newest first."""
    return paginate(
        session,
        user_query(**filters),
        order_by=[User.created_at, User.id],
        limit=limit,
        cursor=cursor,
    )


def update_user(
    session: Session, *, actor: Actor, user_id: uuid.UUID, changes: dict[str, Any]
) -> User:
    """Apply the given field changes; ``unlock=True`` clears a lockout."""
    user = get_user(session, user_id)
    before = audit.snapshot(user)
    changes = dict(changes)
    if changes.pop("unlock", None):
        user.failed_login_count = 0
        user.locked_until = None
    if "email" in changes and changes["email"] is not None:
        changes["email"] = changes["email"].lower()
        _check_unique(session, username=None, email=changes["email"], exclude=user.id)
    if "organization_id" in changes:
        _check_organization(session, changes["organization_id"])
    if (
        changes.get("role") is not None
        and user.role == Role.ADMIN
        and changes["role"] != Role.ADMIN
    ):
        _keep_one_admin(session, user)
    if changes.get("is_active") is False and user.role == Role.ADMIN:
        _keep_one_admin(session, user)
    for field, value in changes.items():
        if field in {"role", "is_active", "email"} and value is None:
            continue
        setattr(user, field, value)
    session.flush()
    old, new = audit.changes(before, audit.snapshot(user))
    if new:
        audit.record(
            session,
            actor=actor,
            action="user.update",
            resource_type="user",
            resource_id=user.id,
            old_values=old,
            new_values=new,
            severity=AuditSeverity.WARNING if "role" in new else AuditSeverity.INFO,
        )
    return user


def _keep_one_admin(session: Session, user: User) -> None:
    admins = session.scalar(
        select(func.count()).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )
    if (admins or 0) <= 1 and user.is_active:
        raise Conflict("This is the last active admin; make another admin first.")


def set_role(session: Session, *, actor: Actor, user_id: uuid.UUID, role: Role) -> User:
    """Change a user's role."""
    return update_user(session, actor=actor, user_id=user_id, changes={"role": role})


def disable_user(session: Session, *, actor: Actor, user_id: uuid.UUID) -> User:
    """Disable a user: no more logins, sessions or API-key use."""
    return update_user(session, actor=actor, user_id=user_id, changes={"is_active": False})


def delete_user(session: Session, *, actor: Actor, user_id: uuid.UUID) -> None:
    """Delete a user; their API keys go with them, their audit rows stay."""
    user = get_user(session, user_id)
    if actor.user_id == user_id:
        # The audit row of the deletion would name a user that no longer exists.
        raise Conflict("You cannot delete your own account; ask another admin to do it.")
    if user.role == Role.ADMIN:
        _keep_one_admin(session, user)
    before = audit.snapshot(user)
    session.delete(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.delete",
        resource_type="user",
        resource_id=user_id,
        old_values=before,
        severity=AuditSeverity.WARNING,
    )


def reset_password(session: Session, *, actor: Actor, user_id: uuid.UUID) -> tuple[User, str]:
    """Give the user a one-time password to change at next login, and clear any lockout."""
    user = get_user(session, user_id)
    password = generate_password()
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.failed_login_count = 0
    user.locked_until = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.reset_password",
        resource_type="user",
        resource_id=user.id,
        severity=AuditSeverity.WARNING,
    )
    return user, password


def count_admins(session: Session) -> int:
    """How many active admins exist."""
    return int(
        session.scalar(
            select(func.count()).where(User.role == Role.ADMIN, User.is_active.is_(True))
        )
        or 0
    )


def ensure_first_admin(
    session: Session,
    *,
    actor: Actor,
    username: str = "admin",
    email: str = "admin@localhost.localdomain",
) -> tuple[User, str] | None:
    """Create (or promote) the first admin when there is none; returns it with a one-time
    password to change at first login."""
    if count_admins(session) > 0:
        return None
    existing = find_user(session, username)
    if existing is not None:
        update_user(
            session,
            actor=actor,
            user_id=existing.id,
            changes={"role": Role.ADMIN, "is_active": True, "unlock": True},
        )
        return reset_password(session, actor=actor, user_id=existing.id)
    user, password = create_user(
        session, actor=actor, username=username, email=email, role=Role.ADMIN
    )
    assert password is not None
    return user, password
