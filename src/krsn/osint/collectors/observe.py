"""What collectors share to turn source fields into observations: canonical entity values,
HTML reduced to text, timestamps in many spellings, dotted paths into JSON."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.osint.collectors.base import Observed, ObservedRelation
from krsn.osint.models import EntityType, RelationshipType

__all__ = [
    "canonical",
    "dotted",
    "html_text",
    "observe",
    "page_text",
    "parse_time",
    "relation",
    "unique",
]

log = logging.getLogger(__name__)

_IOC_KINDS: Final[dict[EntityType, tuple[Kind, ...]]] = {
    EntityType.DOMAIN: (Kind.DOMAIN,),
    EntityType.IP_ADDRESS: (Kind.IPV4, Kind.IPV6),
    EntityType.EMAIL: (Kind.EMAIL,),
    EntityType.URL: (Kind.URL,),
    EntityType.HASH: (Kind.MD5, Kind.SHA1, Kind.SHA256, Kind.SHA512),
}
_SPACES: Final = re.compile(r"\s+")
_TAGS: Final = re.compile(r"<[^>]*>")
_BREAKS: Final = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6])\s*/?\s*>", re.IGNORECASE)
_SCRIPTS: Final = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def canonical(entity_type: EntityType, value: str) -> str | None:
    """The canonical form of ``value`` as ``entity_type`` (the indicators' rules for IOC
    types, tidy whitespace for the rest), or None when it is not one."""
    text = _SPACES.sub(" ", str(value)).strip()
    if not text:
        return None
    kinds = _IOC_KINDS.get(entity_type)
    if kinds is None:
        return text
    result = normalise(text)
    if isinstance(result, Indicator) and result.kind in kinds:
        return result.value
    return None


def observe(
    entity_type: EntityType, value: str, *, confidence: float = 0.9, **properties: Any
) -> Observed | None:
    """An :class:`Observed` of the canonical value, or None when ``value`` is not one."""
    text = canonical(entity_type, value)
    if text is None:
        return None
    return Observed(entity_type, text, properties, confidence)


def relation(
    source: Observed | None,
    target: Observed | None,
    kind: RelationshipType,
    *,
    confidence: float = 0.9,
    **properties: Any,
) -> ObservedRelation | None:
    """The relation between two observations, or None when either end is missing."""
    if (
        source is None
        or target is None
        or (source.entity_type, source.value)
        == (
            target.entity_type,
            target.value,
        )
    ):
        return None
    return ObservedRelation(
        (source.entity_type, source.value),
        (target.entity_type, target.value),
        kind,
        confidence,
        properties,
    )


def unique(observations: Iterable[Any]) -> list[Any]:
    """The observations or relations without None and repeats, first occurrence kept."""
    seen: set[Any] = set()
    kept: list[Any] = []
    for item in observations:
        if item is None:
            continue
        # One entity per type and value, whatever properties a second sighting carries.
        key = (item.entity_type, item.value) if isinstance(item, Observed) else repr(item)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def html_text(markup: str) -> str:
    """HTML reduced to its text: scripts dropped, block ends as line breaks, entities decoded."""
    text = _SCRIPTS.sub(" ", markup)
    text = _BREAKS.sub("\n", text)
    text = html.unescape(_TAGS.sub(" ", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def parse_time(value: Any) -> datetime | None:
    """A UTC datetime from ISO 8601, RFC 2822, epoch seconds or a struct_time; else None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, tuple) and len(value) >= 6:  # feedparser's *_parsed
        year, month, day, hour, minute, second = value[:6]
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                moment = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def dotted(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``data.items.0.name``) in JSON, or None."""
    current = document
    if not path:
        return current
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def page_text(markup: str | bytes, *, url: str | None = None) -> str:
    """The main text of a web page (trafilatura), or all its text when that finds none."""
    # Imported here: trafilatura pulls in lxml and its language data, which only the
    # collectors that read pages need.
    import trafilatura

    if isinstance(markup, bytes):
        markup = markup.decode("utf-8", "replace")
    try:
        text = trafilatura.extract(markup, url=url, include_comments=False, include_tables=True)
    except (ValueError, TypeError) as exc:  # a page lxml cannot build a tree from
        log.debug("trafilatura could not read %s: %s", url, exc)
        text = None
    return text.strip() if text and text.strip() else html_text(markup)
