"""MISP galaxy tags for threat actors and ATT&CK techniques, read and written.

MISP attaches a galaxy cluster to an event or an attribute as a tag
``misp-galaxy:<galaxy>="<value>"``. The ATT&CK galaxies suffix the value with the ATT&CK id
(``"APT28 - G0007"``, ``"Command and Scripting Interpreter - T1059"``); the older
``mitre-enterprise-attack-*`` galaxies name the same clusters, so both spellings are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

_GALAXY_TAG: Final = re.compile(r'misp-galaxy:(?P<galaxy>[a-z0-9-]+)="(?P<value>[^"]+)"')
_ACTOR_GALAXY: Final = re.compile(r"threat-actor|mitre-(?:[a-z]+-)*intrusion-set")
_TECHNIQUE_GALAXY: Final = re.compile(r"mitre-(?:[a-z]+-)*attack-pattern")
_ATTACK_SUFFIX: Final = re.compile(r"^(?P<name>.+?)\s+-\s+(?P<id>[GT]\d{4}(?:\.\d{3})?)$")

ACTOR_GALAXY: Final = "threat-actor"
INTRUSION_SET_GALAXY: Final = "mitre-intrusion-set"
ATTACK_PATTERN_GALAXY: Final = "mitre-attack-pattern"


@dataclass(frozen=True, slots=True)
class ActorRef:
    """A threat actor a galaxy tag names: its name and, from ATT&CK, its group id."""

    name: str
    attack_id: str | None
    tag: str
    synonyms: tuple[str, ...] = field(default=(), compare=False)
    description: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TechniqueRef:
    """An ATT&CK technique a galaxy tag names."""

    technique_id: str
    name: str
    tag: str


def read_tag(tag: str) -> ActorRef | TechniqueRef | None:
    """The actor or technique a galaxy tag names, or None for any other tag."""
    match = _GALAXY_TAG.fullmatch(tag.strip())
    if match is None:
        return None
    galaxy, value = match.group("galaxy"), match.group("value").strip()
    suffix = _ATTACK_SUFFIX.match(value)
    if _ACTOR_GALAXY.fullmatch(galaxy):
        if suffix and suffix.group("id").startswith("G"):
            return ActorRef(suffix.group("name"), suffix.group("id"), tag)
        return ActorRef(value, None, tag)
    if _TECHNIQUE_GALAXY.fullmatch(galaxy) and suffix and suffix.group("id").startswith("T"):
        return TechniqueRef(suffix.group("id"), suffix.group("name"), tag)
    return None


def cluster_details(event: Any) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """Synonyms and description of each galaxy cluster an event carries, by its tag.

    MISP sends the clusters of the event's and its attributes' tags in ``Galaxy`` lists; a
    threat actor created from a tag takes its aliases and description from there.
    """
    found: dict[str, tuple[tuple[str, ...], str | None]] = {}
    holders = [event] if isinstance(event, dict) else []
    attributes = event.get("Attribute") if isinstance(event, dict) else None
    holders += [a for a in attributes or () if isinstance(a, dict)]
    for holder in holders:
        for galaxy in holder.get("Galaxy") or ():
            if not isinstance(galaxy, dict):
                continue
            for cluster in galaxy.get("GalaxyCluster") or ():
                if not isinstance(cluster, dict) or not isinstance(cluster.get("tag_name"), str):
                    continue
                meta = cluster.get("meta")
                if not isinstance(meta, dict):
                    meta = {}
                synonyms = tuple(s for s in meta.get("synonyms") or () if isinstance(s, str))
                description = cluster.get("description")
                found[cluster["tag_name"]] = (
                    synonyms,
                    description if isinstance(description, str) and description else None,
                )
    return found


def actor_tags(name: str, attack_id: str | None) -> list[str]:
    """The galaxy tags naming a threat actor: the MISP threat-actor cluster and, for an ATT&CK
    group, its intrusion set."""
    tags = [f'misp-galaxy:{ACTOR_GALAXY}="{_quoted(name)}"']
    if attack_id:
        tags.append(f'misp-galaxy:{INTRUSION_SET_GALAXY}="{_quoted(name)} - {attack_id}"')
    return tags


def technique_tag(technique_id: str, name: str) -> str:
    """The galaxy tag naming an ATT&CK technique."""
    return f'misp-galaxy:{ATTACK_PATTERN_GALAXY}="{_quoted(name)} - {technique_id}"'


def _quoted(text: str) -> str:
    # A double quote would end the tag's value early; MISP cluster values never hold one.
    return text.replace('"', "'")
