"""The permission matrix: which role may do what, and what an API key's scopes allow.

- ``viewer`` reads only (the OSINT document's ``readonly``);
- ``user`` also writes what it owns: collections, workflows, dashboards;
- ``analyst`` also works all intelligence: indicators, feeds, alerts, incidents, …;
- ``admin`` also manages users, organizations, the audit log and system configuration.

Every role may manage its own account (password, MFA, its own API keys).
"""

from __future__ import annotations

import enum

from krsn.identity.models import Role


class Action(enum.StrEnum):
    """What a route does, as far as permissions are concerned."""

    READ = "read"
    ACCOUNT = "account"
    WRITE_OWN = "write_own"
    WRITE_INTEL = "write_intel"
    ADMIN = "admin"


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ, Action.ACCOUNT}),
    Role.USER: frozenset({Action.READ, Action.ACCOUNT, Action.WRITE_OWN}),
    Role.ANALYST: frozenset({Action.READ, Action.ACCOUNT, Action.WRITE_OWN, Action.WRITE_INTEL}),
    Role.ADMIN: frozenset(Action),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.VIEWER: "Reads what it may see; changes only its own account (password, MFA, API keys).",
    Role.USER: "A viewer who also writes what it owns: collections, workflows, dashboards.",
    Role.ANALYST: "A user who also works all intelligence: indicators, feeds, alerts, incidents.",
    Role.ADMIN: "An analyst who also manages users, organizations, the audit log and settings.",
}

# An API key carries scopes; a scope grants the actions listed, never more than the role.
SCOPE_ACTIONS: dict[str, frozenset[Action]] = {
    "read": frozenset({Action.READ}),
    "account": frozenset({Action.ACCOUNT}),
    "write": frozenset({Action.WRITE_OWN, Action.WRITE_INTEL}),
    "admin": frozenset({Action.ADMIN}),
}


def default_scopes(role: Role) -> list[str]:
    """The scopes a new key of this role gets when none are asked for."""
    allowed = ROLE_ACTIONS[role]
    return [scope for scope, actions in SCOPE_ACTIONS.items() if actions & allowed]


def allowed_actions(role: Role, scopes: list[str] | None = None) -> frozenset[Action]:
    """What a role may do, narrowed to an API key's scopes when there are any."""
    actions = ROLE_ACTIONS[role]
    if scopes is None:
        return actions
    granted: set[Action] = set()
    for scope in scopes:
        granted |= SCOPE_ACTIONS.get(scope, frozenset())
    return actions & frozenset(granted)


def can(role: Role, action: Action, scopes: list[str] | None = None) -> bool:
    """Whether the role (and key scopes) allow the action."""
    return action in allowed_actions(role, scopes)


def can_see_private(*, role: Role, user_id: object, owner_id: object) -> bool:
    """Owners see their private resources; analysts and admins see everyone's."""
    return owner_id == user_id or role in (Role.ANALYST, Role.ADMIN)
