"""Signing in: passwords, lockout, MFA, first-login password change."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Conflict, Invalid, Unauthorized
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import AuditSeverity, User
from krsn.identity.users import find_user, get_user
from krsn.security import mfa
from krsn.security.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)

# Verifying against a real hash keeps the time of an unknown-user login like a real one.
_DUMMY_HASH = hash_password("krsn-timing-equaliser-not-a-password")


class LoginFailure(enum.StrEnum):
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"
    MFA_REQUIRED = "mfa_required"
    MFA_WRONG = "mfa_wrong"


@dataclass
class LoginOutcome:
    """A signed-in user, or why not; failures are returned so their audit row commits."""

    user: User | None
    failure: LoginFailure | None = None
    message: str = ""


def login(
    session: Session,
    *,
    login_name: str,
    password: str,
    otp: str | None,
    actor: Actor,
    max_failures: int,
    lockout_minutes: int,
) -> LoginOutcome:
    """Check the credentials, apply lockout and MFA, and audit the attempt."""
    user = find_user(session, login_name)
    now = utcnow()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        audit.record(
            session,
            actor=actor,
            action="auth.login_failed",
            resource_type="user",
            details={"login": login_name[:255], "reason": "unknown user"},
            severity=AuditSeverity.WARNING,
        )
        return LoginOutcome(None, LoginFailure.BAD_CREDENTIALS, "Wrong username or password.")

    who = Actor(
        user_id=user.id, via=actor.via, ip_address=actor.ip_address, user_agent=actor.user_agent
    )
    if user.locked_until is not None and user.locked_until > now:
        audit.record(
            session,
            actor=who,
            action="auth.login_failed",
            resource_type="user",
            resource_id=user.id,
            details={"reason": "locked"},
            severity=AuditSeverity.WARNING,
        )
        until = user.locked_until.strftime("%Y-%m-%d %H:%M UTC")
        return LoginOutcome(
            None,
            LoginFailure.LOCKED,
            f"This account is locked after too many failed logins until {until}; "
            "wait, or ask an admin to reset the password.",
        )

    if not verify_password(user.password_hash, password):
        return _fail(
            session,
            user,
            who,
            "wrong password",
            LoginFailure.BAD_CREDENTIALS,
            "Wrong username or password.",
            max_failures,
            lockout_minutes,
        )

    if not user.is_active:
        audit.record(
            session,
            actor=who,
            action="auth.login_failed",
            resource_type="user",
            resource_id=user.id,
            details={"reason": "disabled"},
            severity=AuditSeverity.WARNING,
        )
        return LoginOutcome(
            None, LoginFailure.DISABLED, "This account is disabled; ask an admin to enable it."
        )

    if user.mfa_enabled:
        if not otp:
            audit.record(
                session,
                actor=who,
                action="auth.mfa_required",
                resource_type="user",
                resource_id=user.id,
            )
            return LoginOutcome(
                None,
                LoginFailure.MFA_REQUIRED,
                "This account uses two-factor authentication: send the 6-digit code from "
                "your authenticator app (or a recovery code) as 'otp'.",
            )
        if not _check_second_factor(user, otp):
            return _fail(
                session,
                user,
                who,
                "wrong MFA code",
                LoginFailure.MFA_WRONG,
                "The two-factor code is wrong or already used; use the current code.",
                max_failures,
                lockout_minutes,
            )

    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login = now
    session.flush()
    audit.record(session, actor=who, action="auth.login", resource_type="user", resource_id=user.id)
    return LoginOutcome(user)


def _check_second_factor(user: User, otp: str) -> bool:
    code = otp.strip().replace(" ", "")
    if code.isdigit() and len(code) in (6, 8) and user.mfa_secret:
        step = mfa.verify_totp(user.mfa_secret, code, last_used_step=user.mfa_last_used_step)
        if step is not None:
            user.mfa_last_used_step = step
            return True
        return False
    remaining = mfa.consume_recovery_code(list(user.mfa_recovery_codes or []), code)
    if remaining is None:
        return False
    user.mfa_recovery_codes = remaining
    return True


def _fail(
    session: Session,
    user: User,
    who: Actor,
    reason: str,
    failure: LoginFailure,
    message: str,
    max_failures: int,
    lockout_minutes: int,
) -> LoginOutcome:
    user.failed_login_count = (user.failed_login_count or 0) + 1
    details: dict[str, object] = {"reason": reason, "failures": user.failed_login_count}
    severity = AuditSeverity.WARNING
    if user.failed_login_count >= max_failures:
        user.locked_until = utcnow() + timedelta(minutes=lockout_minutes)
        details["locked_until"] = user.locked_until
        severity = AuditSeverity.ERROR
        message += (
            f" The account is now locked for {lockout_minutes} minutes after "
            f"{user.failed_login_count} failed attempts."
        )
    session.flush()
    audit.record(
        session,
        actor=who,
        action="auth.login_failed",
        resource_type="user",
        resource_id=user.id,
        details=details,
        severity=severity,
    )
    return LoginOutcome(None, failure, message)


def change_password(
    session: Session,
    *,
    actor: Actor,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
) -> User:
    """Change one's own password, proving the current one."""
    user = get_user(session, user_id)
    if not verify_password(user.password_hash, current_password):
        raise Invalid("current_password", "is not your current password")
    if verify_password(user.password_hash, new_password):
        raise Invalid("new_password", "must differ from the current password")
    check_password_policy(new_password, username=user.username, email=user.email)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="auth.password_change",
        resource_type="user",
        resource_id=user.id,
    )
    return user


def start_mfa_enrolment(session: Session, *, actor: Actor, user_id: uuid.UUID) -> tuple[str, str]:
    """A new TOTP secret for the user (not active until verified): (secret, otpauth URI)."""
    user = get_user(session, user_id)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on; disable it first.")
    secret = mfa.new_totp_secret()
    user.mfa_secret = secret
    user.mfa_last_used_step = None
    session.flush()
    audit.record(
        session, actor=actor, action="auth.mfa_enrol", resource_type="user", resource_id=user.id
    )
    return secret, mfa.provisioning_uri(secret, account=user.username)


def verify_mfa_enrolment(
    session: Session, *, actor: Actor, user_id: uuid.UUID, code: str
) -> list[str]:
    """Turn MFA on once the user proves a code; returns the recovery codes, shown once."""
    user = get_user(session, user_id)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on.")
    if not user.mfa_secret:
        raise Conflict("Start enrolment first (POST /api/v1/auth/mfa/enroll).")
    step = mfa.verify_totp(user.mfa_secret, code.strip(), last_used_step=user.mfa_last_used_step)
    if step is None:
        raise Invalid("code", "wrong or expired code; check the time on your device")
    codes = mfa.generate_recovery_codes()
    user.mfa_enabled = True
    user.mfa_last_used_step = step
    user.mfa_recovery_codes = [mfa.hash_recovery_code(c) for c in codes]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="auth.mfa_enable",
        resource_type="user",
        resource_id=user.id,
        severity=AuditSeverity.WARNING,
    )
    return codes


def disable_mfa(
    session: Session, *, actor: Actor, user_id: uuid.UUID, password: str, code: str
) -> User:
    """Turn MFA off, proving both the password and a current code (or a recovery code)."""
    user = get_user(session, user_id)
    if not user.mfa_enabled:
        raise Conflict("Two-factor authentication is not on.")
    if not verify_password(user.password_hash, password):
        raise Invalid("password", "is not your current password")
    if not _check_second_factor(user, code):
        raise Invalid("code", "wrong or already used code")
    user.mfa_enabled = False
    user.mfa_secret = None
    user.mfa_recovery_codes = None
    user.mfa_last_used_step = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="auth.mfa_disable",
        resource_type="user",
        resource_id=user.id,
        severity=AuditSeverity.WARNING,
    )
    return user


def require_active(user: User | None) -> User:
    if user is None or not user.is_active:
        raise Unauthorized("Your session has ended; sign in again.")
    return user
