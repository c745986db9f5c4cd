"""TLP 2.0: the levels, how people and feeds write them, what a report's classification
means, and the one rule every channel releases objects by.

**Levels**, least to most restrictive: CLEAR, GREEN, AMBER, AMBER+STRICT, RED
(:data:`TLP_LEVELS`). TLP 1.0's WHITE reads as CLEAR; a marking nobody can read reads as
RED, so a typo never loosens anything (:func:`tlp_level`).

**Where each object keeps its TLP.** An indicator in ``metadata.tlp``, an actor in
``attribution_data.tlp``, an IOC collection and a threat report in ``metadata.tlp``, a
campaign in its ``tlp`` column. A report's TLP is the strictest of that and its
classification's (public → CLEAR, internal → AMBER+STRICT, confidential → RED): a marking may
tighten a classification, never loosen it. An object shared inside a container (an indicator
of a collection, of a report) carries the strictest of its own TLP and the container's.

**The release rule** (:func:`may_release`), one for every channel: the STIX and MISP exports
(API and command line), the TAXII server and MISP feeds.

- TLP:RED never leaves over TAXII or in a MISP feed: those serve whoever holds a key or the
  feed's address, and RED is for named recipients only. A direct export (the API, the
  command line) gives RED objects to admins only; the command line runs as the local
  operator, an admin.
- TLP:AMBER+STRICT goes to admins and to members of the organization that owns the object:
  the organization of whoever made the container (a collection's creator, a report's author,
  a campaign's analyst). Actors and indicator queries have no owner, so there it goes to
  admins only.
- TLP:AMBER, GREEN, CLEAR and unmarked objects go to whoever may read the container.
- A publisher may set a ceiling below that (a MISP feed's ``--max-tlp``, GREEN by default);
  unmarked objects pass any ceiling.

Exports withhold what the rule refuses and say how many objects they withheld; they never
drop them silently. A container the recipient may not receive is refused whole.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from krsn.errors import Invalid
from krsn.identity.models import Role, User

TLP_LEVELS: Final = ("clear", "green", "amber", "amber+strict", "red")
"""TLP 2.0, least to most restrictive."""
TLP_KEY: Final = "tlp"
"""The key of a JSON column (``metadata``, ``attribution_data``) that holds an object's TLP."""
FEED_CEILING: Final = "amber+strict"
"""The most a MISP feed may ever carry: RED never goes into a feed."""
DEFAULT_FEED_MAX: Final = "green"

_ALIASES: Final = {"white": "clear", "amber strict": "amber+strict"}
_CLASSIFICATION_TLP: Final = {
    "public": "clear",
    "internal": "amber+strict",
    "confidential": "red",
}
# How a stored level may be spelled, for the SQL filter: each one reads as its level.
_SPELLINGS: Final = {
    "clear": ("clear", "white"),
    "green": ("green",),
    "amber": ("amber",),
    "amber+strict": ("amber+strict", "amber strict", "amber_strict", "amber-strict"),
    "red": ("red",),
}
_PREFIXES: Final = ("", "tlp:", "tlp: ", "tlp ")


# --- Reading levels -------------------------------------------------------------------------


def _readable(value: Any) -> str | None:
    """The level ``value`` names, or None when it names none (unlike :func:`tlp_level`)."""
    text = str(value).strip().lower().removeprefix("tlp:").removeprefix("tlp ").strip()
    text = " ".join(text.replace("_", " ").replace("-", " ").replace("+", " ").split())
    level = _ALIASES.get(text, text.replace(" ", "+"))
    return level if level in TLP_LEVELS else None


def tlp_level(value: Any) -> str | None:
    """A TLP level ("clear" … "red") from how people and feeds write it ("TLP:RED",
    "tlp:white", "amber strict"); an unreadable one reads as red, so it is never loosened."""
    if value is None or value == "":
        return None
    return _readable(value) or "red"


def parse_tlp(value: Any, *, field: str = "tlp") -> str | None:
    """A TLP level a person gave (None for none); ``Invalid`` when it names no level."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    level = _readable(value) if isinstance(value, str) else None
    if level is None:
        raise Invalid(field, f"must be one of {', '.join(TLP_LEVELS)} (TLP 2.0), not {value!r}")
    return level


def normalise_input(value: Any) -> Any:
    """A TLP an API client sent, in its canonical spelling when it is one (for validators);
    anything else is left for the validator to refuse."""
    if isinstance(value, str):
        return _readable(value) or value
    return value


def strictest(*levels: str | None) -> str | None:
    """The most restrictive of these TLP levels (None when none is given)."""
    known = [level for level in levels if level is not None]
    return max(known, key=TLP_LEVELS.index) if known else None


def of_document(document: Any) -> str | None:
    """The TLP a JSON document states under ``tlp``, if any."""
    return tlp_level(document.get(TLP_KEY)) if isinstance(document, dict) else None


def classification_tlp(classification: Any) -> str:
    """The TLP a report's classification stands for; an unknown one is red."""
    value = getattr(classification, "value", classification)
    return _CLASSIFICATION_TLP.get(str(value), "red")


def report_tlp(report: Any) -> str:
    """A report's TLP: the strictest of its ``metadata.tlp`` and its classification's."""
    return strictest(of_document(report.metadata_), classification_tlp(report.classification)) or (
        "red"
    )


def indicator_tlp(metadata: Any) -> str | None:
    """An indicator's own TLP (``metadata.tlp``), if it has one."""
    return of_document(metadata)


def actor_tlp(actor: Any) -> str | None:
    """An actor's own TLP (``attribution_data.tlp``), if it has one."""
    return of_document(actor.attribution_data)


def campaign_tlp(campaign: Any) -> str | None:
    """A campaign's own TLP (its ``tlp`` column), if it has one."""
    return tlp_level(getattr(campaign, "tlp", None))


def collection_tlp(collection: Any) -> str | None:
    """An IOC collection's TLP (``metadata.tlp``), if it has one."""
    return of_document(collection.metadata_)


# --- The release rule -----------------------------------------------------------------------


class Channel(enum.StrEnum):
    """How objects leave the platform."""

    EXPORT = "export"
    """A direct export to the person asking: the STIX and MISP exports, API or command line."""
    TAXII = "taxii"
    """The TAXII server: whoever holds a key reads it, as a feed."""
    FEED = "feed"
    """A MISP feed folder, for outside subscribers."""


@dataclass(frozen=True)
class Recipient:
    """Who receives an export, as far as TLP decides anything."""

    is_admin: bool = False
    organization_id: uuid.UUID | None = None


OPERATOR: Final = Recipient(is_admin=True)
"""The local operator at the command line: an admin."""


def may_release(
    level: str | None,
    *,
    recipient: Recipient,
    owner_organization_id: uuid.UUID | None,
    channel: Channel,
    max_level: str | None = None,
) -> bool:
    """Whether an object of this (already strictest) TLP may go to ``recipient`` over
    ``channel``; ``owner_organization_id`` is the organization owning it (AMBER+STRICT),
    ``max_level`` a publisher's ceiling. The module's docstring states the rule."""
    if level is None:
        return True
    if level not in TLP_LEVELS:
        level = "red"
    if max_level is not None and TLP_LEVELS.index(level) > TLP_LEVELS.index(max_level):
        return False
    if level == "red":
        return channel == Channel.EXPORT and recipient.is_admin
    if level == "amber+strict":
        return recipient.is_admin or (
            owner_organization_id is not None and recipient.organization_id == owner_organization_id
        )
    return True


@dataclass(frozen=True)
class Audience:
    """Who one export goes to, over which channel, up to which level: the rule's arguments
    that do not change from object to object."""

    recipient: Recipient
    channel: Channel
    max_level: str | None = None

    def allows(self, level: str | None, *, owner_organization_id: uuid.UUID | None) -> bool:
        """:func:`may_release` for this audience."""
        return may_release(
            level,
            recipient=self.recipient,
            owner_organization_id=owner_organization_id,
            channel=self.channel,
            max_level=self.max_level,
        )

    def levels(self, *, owner_organization_id: uuid.UUID | None) -> list[str]:
        """The levels this audience may receive of an owner's objects."""
        return [
            level
            for level in TLP_LEVELS
            if self.allows(level, owner_organization_id=owner_organization_id)
        ]


OPERATOR_EXPORT: Final = Audience(OPERATOR, Channel.EXPORT)
"""The local operator exporting directly: every level, RED included (marked so)."""


def feed_audience(max_level: str | None = DEFAULT_FEED_MAX) -> Audience:
    """The audience of a MISP feed published by the operator, up to ``max_level`` (never
    above AMBER+STRICT)."""
    ceiling = parse_tlp(max_level, field="max_tlp") or DEFAULT_FEED_MAX
    if TLP_LEVELS.index(ceiling) > TLP_LEVELS.index(FEED_CEILING):
        raise Invalid(
            "max_tlp", "TLP:RED never goes into a feed; the most a feed carries is amber+strict"
        )
    return Audience(OPERATOR, Channel.FEED, max_level=ceiling)


def recipient_of(session: Session, *, user_id: uuid.UUID | None, role: Role) -> Recipient:
    """The recipient a signed-in user (or an API key's user) is, with their organization."""
    organization = (
        session.scalar(sa.select(User.organization_id).where(User.id == user_id))
        if user_id is not None
        else None
    )
    return Recipient(is_admin=role == Role.ADMIN, organization_id=organization)


def organization_of(session: Session, user_id: uuid.UUID | None) -> uuid.UUID | None:
    """The organization a user belongs to (the owner of what they made), if any."""
    if user_id is None:
        return None
    return session.scalar(sa.select(User.organization_id).where(User.id == user_id))


def released(
    stated: sa.ColumnElement[Any], audience: Audience, *, owner_organization_id: uuid.UUID | None
) -> sa.ColumnElement[bool]:
    """A SQL condition on a stated TLP (``metadata['tlp'].as_string()``): true for the rows
    this audience may receive. Unmarked rows pass; a spelling it does not know is withheld,
    never released (it may be red)."""
    allowed = audience.levels(owner_organization_id=owner_organization_id)
    spellings = sorted(
        {
            prefix + spelling
            for level in allowed
            for spelling in _SPELLINGS[level]
            for prefix in _PREFIXES
        }
        | {""}
    )
    return sa.or_(stated.is_(None), sa.func.lower(sa.func.trim(stated)).in_(spellings))


def spellings() -> dict[str, list[str]]:
    """Every stored spelling the SQL filter knows, by the level it reads as (for tests)."""
    return {
        level: [prefix + spelling for spelling in _SPELLINGS[level] for prefix in _PREFIXES]
        for level in TLP_LEVELS
    }
