"""The resolution key of an entity: the normalised name one entity row is found by.

IOC types take the ingestion normalisation (:func:`krsn.indicators.normalise.normalise`), so
``evil[.]com``, ``EVIL.com.`` and ``evil.com`` are one domain and the entity's key equals the
canonical value of the threat indicator it links to. Names of people, organisations and
places fold case, whitespace, punctuation and diacritics (NFKD with combining marks dropped);
organisations also lose trailing legal suffixes, so ``Acme Corp.``, ``ACME, Inc`` and
``Acmé`` resolve together. The other types have a small canonical form each (a phone number
in E.164, a CVE id in upper case, an Ethereum address in lower case).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import phonenumbers

from krsn.indicators.models import IndicatorType
from krsn.indicators.normalise import Indicator, normalise
from krsn.osint.models import EntityType

# The widest name and key the entities table holds.
MAX_NAME: Final = 500

INDICATOR_TYPE: Final[dict[EntityType, IndicatorType]] = {
    EntityType.IP_ADDRESS: IndicatorType.IP,
    EntityType.DOMAIN: IndicatorType.DOMAIN,
    EntityType.URL: IndicatorType.URL,
    EntityType.HASH: IndicatorType.HASH,
    EntityType.EMAIL: IndicatorType.EMAIL,
}
"""Entity types that have a threat-indicator counterpart, and the indicator type they map to."""

ENTITY_TYPE: Final[dict[IndicatorType, EntityType]] = {v: k for k, v in INDICATOR_TYPE.items()}

# Legal-form suffixes, written after folding (lower case, no punctuation). Longest first, so
# "co ltd" goes before "ltd" would leave a stray "co".
LEGAL_SUFFIXES: Final = tuple(
    sorted(
        {
            "inc",
            "incorporated",
            "ltd",
            "limited",
            "llc",
            "llp",
            "lp",
            "plc",
            "corp",
            "corporation",
            "co",
            "company",
            "co ltd",
            "gmbh",
            "gmbh co kg",
            "ag",
            "kg",
            "sa",
            "s a",
            "sas",
            "sarl",
            "srl",
            "spa",
            "s p a",
            "bv",
            "b v",
            "nv",
            "n v",
            "oy",
            "ab",
            "as",
            "a s",
            "aps",
            "pty ltd",
            "pty",
            "pte ltd",
            "kk",
            "ooo",
            "oao",
            "zao",
            "pjsc",
            "jsc",
            "sl",
            "se",
        },
        key=len,
        reverse=True,
    )
)
_SUFFIX = re.compile(r"(?:\s+(?:" + "|".join(re.escape(s) for s in LEGAL_SUFFIXES) + r"))+$")
_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Key:
    """How an entity is found (``key``) and what it is called when created (``name``)."""

    entity_type: EntityType
    key: str
    name: str


def fold(text: str) -> str:
    """Case, diacritics, punctuation, whitespace folded: ``"Zoë  O'Neil"`` → ``zoe o neil``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _PUNCTUATION.sub(" ", plain.casefold())
    return _SPACES.sub(" ", plain).strip()


def organisation_key(text: str) -> str:
    """An organisation's key: folded, legal suffixes dropped (``"Acme, Inc."`` → ``acme``)."""
    folded = fold(text)
    stripped = _SUFFIX.sub("", folded).strip()
    # A name that is only a suffix ("AG") keeps it rather than becoming empty.
    return stripped or folded


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def resolution_key(entity_type: EntityType | str, value: str) -> Key | None:
    """The key and display name of a value of a type, or None when it is not one."""
    kind = EntityType(entity_type)
    text = _tidy(value)
    if not text:
        return None
    indicator_type = INDICATOR_TYPE.get(kind)
    if indicator_type is not None:
        result = normalise(text, expected=indicator_type)
        if not isinstance(result, Indicator) or len(result.value) > MAX_NAME:
            return None
        return Key(kind, result.value, result.value)
    if kind is EntityType.ORGANIZATION:
        key = organisation_key(text)
    elif kind in (EntityType.PERSON, EntityType.LOCATION):
        key = fold(text)
    elif kind is EntityType.PHONE:
        key = _phone(text)
        text = key or text
    elif kind is EntityType.CVE:
        if not _CVE.fullmatch(text):
            return None
        key = text = text.upper()
    elif kind is EntityType.USERNAME:
        key = text.removeprefix("@").casefold()
    elif kind is EntityType.CRYPTOCURRENCY_ADDRESS:
        # Base58 and Monero addresses are case-sensitive; hex Ethereum addresses are not.
        key = text.lower() if text[:2].lower() == "0x" else text
    else:
        key = fold(text)
    if not key or len(key) > MAX_NAME:
        return None
    return Key(kind, key, text[:MAX_NAME])


def _phone(text: str) -> str:
    """E.164 when the number parses (international form), else its digits with a leading +."""
    try:
        number = phonenumbers.parse(text, None)
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", text)
    return f"+{digits}" if digits else ""
