"""Threat-intel providers (``threat_sources``): find or create one by name, their CRUD, and
the credential their feeds are fetched with.

A source's ``authentication_config`` (encrypted at rest) holds one credential, checked by
:data:`krsn.feeds.schemas.SourceCredential`: a header, a bearer token, HTTP basic or a query
parameter. It is written here and read by the runner; it is never returned, logged or
audited: :func:`credential_summary` shows its type and names with the secret masked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from krsn.db.pagination import PageResult, paginate
from krsn.errors import Conflict, Invalid, NotFound
from krsn.feeds.models import ThreatFeed, ThreatSource, ThreatSourceType
from krsn.feeds.pipeline import SourceRef
from krsn.feeds.schemas import (
    CREDENTIAL_TYPES,
    MASK,
    BasicCredential,
    BearerCredential,
    HeaderCredential,
    QueryCredential,
    SourceCredential,
)
from krsn.identity import audit
from krsn.identity.audit import Actor

_CREDENTIAL: Final = TypeAdapter[Any](SourceCredential)
_CREDENTIAL_FIELDS: Final = {
    "header": ("type", "name", "value"),
    "bearer": ("type", "token"),
    "basic": ("type", "username", "password"),
    "query": ("type", "name", "value"),
}


def ensure_source(
    session: Session,
    *,
    actor: Actor,
    name: str,
    reliability: float | None = None,
    source_type: ThreatSourceType = ThreatSourceType.INTERNAL,
) -> SourceRef:
    """The provider called ``name``, created (and audited) on first use."""
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("source", "give a name of 1 to 255 characters")
    if reliability is not None and not 0 <= reliability <= 100:
        raise Invalid("reliability", "must be between 0 and 100")
    source = session.scalar(select(ThreatSource).where(ThreatSource.name == name))
    if source is None:
        source = ThreatSource(name=name, reliability_score=reliability, source_type=source_type)
        audit.created(session, source, actor=actor, resource_type="threat_source")
    value = source.reliability_score
    return SourceRef(
        id=source.id, name=source.name, reliability=float(value) if value is not None else None
    )


# --- CRUD for the API -----------------------------------------------------------------------

# Columns a caller may set; ``reliability_score`` is checked, ``authentication_config`` is
# write-only and encrypted at rest.
SOURCE_FIELDS = frozenset(
    {
        "name",
        "description",
        "source_type",
        "api_endpoint",
        "authentication_config",
        "is_active",
        "refresh_interval_minutes",
        "reliability_score",
        "metadata",
    }
)


def authentication_keys(source: ThreatSource) -> list[str]:
    """Which keys the source's authentication config sets (never their values)."""
    return sorted(str(key) for key in (source.authentication_config or {}))


# --- credentials ----------------------------------------------------------------------------


def check_credential(config: Any) -> dict[str, Any] | None:
    """A credential as stored, or ``Invalid`` naming the field at fault (never its value)."""
    if config is None:
        return None
    try:
        credential = _CREDENTIAL.validate_python(config)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = [str(part) for part in error["loc"]]
        if location and location[0] in CREDENTIAL_TYPES:
            location = location[1:]  # the union's tag, not a field
        where = ".".join(["authentication_config", *location])
        reason = error["msg"].removeprefix("Value error, ")
        kind = _kind_of(config)
        if error["type"] == "extra_forbidden" and kind is not None:
            reason = f"not a field of a {kind} credential; it takes: " + ", ".join(
                _CREDENTIAL_FIELDS[kind]
            )
        elif error["type"] == "missing" and kind is not None:
            reason = f"a {kind} credential needs it; it takes: " + ", ".join(
                _CREDENTIAL_FIELDS[kind]
            )
        raise Invalid(where, reason) from None
    dumped: dict[str, Any] = credential.model_dump()
    return dumped


def _kind_of(config: Any) -> str | None:
    kind = config.get("type") if isinstance(config, dict) else None
    return kind if kind in _CREDENTIAL_FIELDS else None


def credential_summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The credential's type and names, each secret replaced by a mask."""
    if not config:
        return None
    kind = _kind_of(config)
    if kind is None:
        # A config stored before credentials were checked: say so, show nothing of it.
        return {"type": "unrecognised"}
    shown: dict[str, Any] = {"type": kind}
    for name in _CREDENTIAL_FIELDS[kind][1:]:
        if name in ("name", "username"):
            shown[name] = config.get(name)
        else:
            shown[name] = MASK
    return shown


@dataclass(slots=True)
class RequestCredentials:
    """What a credential adds to a request: headers, basic auth, query parameters."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    params: dict[str, str] = field(default_factory=dict, repr=False)

    def as_fetch_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`krsn.feeds.fetch.fetch`."""
        return {"headers": dict(self.headers), "auth": self.auth, "params": dict(self.params)}


def request_credentials(config: dict[str, Any] | None) -> RequestCredentials:
    """The request parts of a stored credential; ``Invalid`` when it is not usable."""
    if not config:
        return RequestCredentials()
    try:
        credential = _CREDENTIAL.validate_python(config)
    except ValidationError:
        raise Invalid(
            "authentication_config",
            "the source's stored credential is not usable; set it again as a header, "
            "bearer, basic or query credential",
        ) from None
    if isinstance(credential, HeaderCredential):
        return RequestCredentials(headers={credential.name: credential.value})
    if isinstance(credential, BearerCredential):
        return RequestCredentials(headers={"Authorization": f"Bearer {credential.token}"})
    if isinstance(credential, BasicCredential):
        return RequestCredentials(auth=(credential.username, credential.password))
    assert isinstance(credential, QueryCredential)
    return RequestCredentials(params={credential.name: credential.value})


def set_credential(
    session: Session, *, actor: Actor, source_id: uuid.UUID, credential: dict[str, Any] | None
) -> ThreatSource:
    """Replace a source's credential (None removes it); audited without the secret."""
    return update_source(
        session,
        actor=actor,
        source_id=source_id,
        changes={"authentication_config": credential},
    )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("name", "give a name of 1 to 255 characters")
    return name


def _name_clash(session: Session, name: str, *, other_than: uuid.UUID | None = None) -> None:
    query = select(ThreatSource.id).where(func.lower(ThreatSource.name) == name.lower())
    if other_than is not None:
        query = query.where(ThreatSource.id != other_than)
    if session.scalar(query) is not None:
        raise Conflict(f"A threat source named {name!r} exists.", field="name")


def _check_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - SOURCE_FIELDS
    if unknown:
        raise Invalid(sorted(unknown)[0], "not a field of a threat source")
    checked = dict(values)
    if "name" in checked:
        checked["name"] = _clean_name(checked["name"])
    score = checked.get("reliability_score")
    if score is not None:
        if not 0 <= score <= 100:
            raise Invalid("reliability_score", "must be between 0 and 100")
        checked["reliability_score"] = Decimal(str(round(float(score), 2)))
    endpoint = checked.get("api_endpoint")
    if endpoint is not None and not str(endpoint).startswith(("http://", "https://")):
        raise Invalid("api_endpoint", "must be an http:// or https:// address")
    minutes = checked.get("refresh_interval_minutes")
    if minutes is not None and not 5 <= minutes <= 7 * 24 * 60:
        raise Invalid("refresh_interval_minutes", "must be between 5 and 10080")
    if checked.get("source_type") is not None:
        checked["source_type"] = ThreatSourceType(checked["source_type"])
    if "metadata" in checked:
        checked["metadata_"] = checked.pop("metadata")
    if "authentication_config" in checked:
        checked["authentication_config"] = check_credential(checked["authentication_config"])
    return checked


def _auth_details(before: list[str] | None, source: ThreatSource) -> dict[str, Any]:
    # The config itself never reaches the audit log; which keys it sets and its type do.
    after = authentication_keys(source)
    details: dict[str, Any] = {"authentication_config_keys": after}
    summary = credential_summary(source.authentication_config)
    if summary is not None:
        details["authentication_type"] = summary["type"]
    if before is not None:
        details["authentication_config_changed"] = True
    return details


def create_source(
    session: Session,
    *,
    actor: Actor,
    name: str,
    values: dict[str, Any] | None = None,
) -> ThreatSource:
    """A new provider; ``values`` holds the other columns (see ``SOURCE_FIELDS``)."""
    checked = _check_values({**(values or {}), "name": name})
    _name_clash(session, checked["name"])
    if checked.get("is_active") is None:
        checked.pop("is_active", None)
    source = ThreatSource(**checked)
    audit.created(
        session,
        source,
        actor=actor,
        resource_type="threat_source",
        details=_auth_details(None, source),
    )
    return source


def list_sources(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    is_active: bool | None = None,
    source_type: ThreatSourceType | None = None,
    q: str | None = None,
) -> PageResult[ThreatSource]:
    """Providers by name, a page at a time."""
    query = select(ThreatSource)
    if is_active is not None:
        query = query.where(ThreatSource.is_active.is_(is_active))
    if source_type is not None:
        query = query.where(ThreatSource.source_type == source_type)
    if q:
        query = query.where(func.lower(ThreatSource.name).contains(q.lower(), autoescape=True))
    return paginate(
        session,
        query,
        order_by=[ThreatSource.name, ThreatSource.id],
        limit=limit,
        cursor=cursor,
        descending=False,
    )


def get_source(session: Session, source_id: uuid.UUID) -> ThreatSource:
    """A provider by id."""
    source = session.get(ThreatSource, source_id)
    if source is None:
        raise NotFound(f"No threat source with id {source_id}.")
    return source


def update_source(
    session: Session, *, actor: Actor, source_id: uuid.UUID, changes: dict[str, Any]
) -> ThreatSource:
    """Change a provider's columns; ``authentication_config`` is replaced as a whole."""
    source = get_source(session, source_id)
    if "name" in changes and changes["name"] is None:
        raise Invalid("name", "a threat source needs a name")
    if "is_active" in changes and changes["is_active"] is None:
        raise Invalid("is_active", "must be true or false")
    checked = _check_values(changes)
    if "name" in checked:
        _name_clash(session, checked["name"], other_than=source.id)
    before = audit.snapshot(source)
    auth_before = authentication_keys(source) if "authentication_config" in checked else None
    for key, value in checked.items():
        setattr(source, key, value)
    session.flush()
    old, new = audit.changes(before, audit.snapshot(source))
    if old or new or auth_before is not None:
        audit.record(
            session,
            actor=actor,
            action="threat_source.update",
            resource_type="threat_source",
            resource_id=source.id,
            old_values=old,
            new_values=new,
            details=_auth_details(auth_before, source),
        )
    return source


def delete_source(session: Session, *, actor: Actor, source_id: uuid.UUID) -> None:
    """Delete a provider and its feeds; the intelligence it gave stays, unattributed."""
    source = get_source(session, source_id)
    feeds = list(
        session.execute(
            select(ThreatFeed.id, ThreatFeed.feed_name).where(ThreatFeed.source_id == source.id)
        )
    )
    snapshot = audit.snapshot(source)
    session.delete(source)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="threat_source.delete",
        resource_type="threat_source",
        resource_id=source_id,
        old_values=snapshot,
        details={"deleted_feeds": [{"id": str(i), "name": n} for i, n in feeds]},
    )
