"""The shared MISP sample events, and what they say, read straight from the files; the other
MISP tests import these helpers."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from support import shared_data

CIRCL_EVENT = "57c4445b-c548-4654-af0b-4be3950d210f.json"
HASH_TYPES = ("md5", "sha1", "sha256", "sha512")


@cache
def _read(*parts: str) -> Any:
    return json.loads(shared_data("misp", *parts).read_text(encoding="utf-8"))


def document(*parts: str) -> Any:
    """A sample document as published; each caller gets its own copy to change."""
    return copy.deepcopy(_read(*parts))


def event_of(doc: Any) -> dict[str, Any]:
    """The (first) event body of a sample, whatever its wrapping."""
    if isinstance(doc, dict) and "response" in doc:
        doc = doc["response"][0]
    return doc.get("Event", doc)  # type: ignore[no-any-return]


def attributes(event: dict[str, Any], *, objects: bool = True) -> list[dict[str, Any]]:
    found = list(event.get("Attribute") or ())
    if objects:
        for obj in event.get("Object") or ():
            found += obj.get("Attribute") or ()
    return found


def hashes(event: dict[str, Any]) -> set[str]:
    """Every file hash the event states, lower-cased, from hash and filename|hash attributes."""
    found = set()
    for attribute in attributes(event):
        kind, value = attribute["type"], attribute["value"]
        if kind in HASH_TYPES:
            found.add(value.strip().lower())
        elif kind.startswith("filename|") and kind[9:] in HASH_TYPES:
            found.add(value.split("|", 1)[1].strip().lower())
    return found


def domains(event: dict[str, Any]) -> set[str]:
    return {
        a["value"].strip().lower().rstrip(".")
        for a in attributes(event)
        if a["type"] in ("domain", "hostname")
    }


def addresses(event: dict[str, Any]) -> set[str]:
    return {a["value"].strip() for a in attributes(event) if a["type"] in ("ip-dst", "ip-src")}


def test_the_helpers_count_what_the_samples_list_says():
    # The counts the sample list (SOURCES.md) gives for these files: attributes and objects.
    circl = event_of(document("pymisp", CIRCL_EVENT))
    assert (len(attributes(circl, objects=False)), len(circl.get("Object") or ())) == (9, 0)
    bare = event_of(document("pymisp", "existing_event.json"))
    assert len(attributes(bare, objects=False)) == 9
    assert len(attributes(bare)) - len(attributes(bare, objects=False)) == 113
    rest = event_of(document("eset", "misp-ramsay.json"))
    assert len(attributes(rest)) == 81
    assert (
        len(hashes(rest)) == len({a["value"] for a in rest["Attribute"] if a["type"] == "md5"}) * 3
    )
