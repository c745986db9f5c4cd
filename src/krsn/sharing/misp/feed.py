"""A MISP feed on disk that a MISP instance subscribes to (Sync Actions → Feeds → Add).

The folder holds what MISP reads and what PyMISP's feed generator writes:

- ``<event uuid>.json``: one event, ``{"Event": {…}}`` (:mod:`krsn.sharing.misp.export`);
- ``manifest.json``: each event's uuid mapped to its Orgc, Tag, info, date, analysis,
  threat_level_id and timestamp: MISP fetches only events whose timestamp moved;
- ``hashes.csv``: ``<md5 of an attribute value>,<event uuid>`` per attribute, which MISP uses
  to show feed hits without fetching events.

Publishing a selection replaces its own event and its lines in both indexes and keeps every
other event in the folder, so one folder can carry several selections. Files are written
to a temporary name and renamed, so a subscriber never reads half a file.

A feed is read by whoever has its address: the selection is made for a feed's audience
(:func:`krsn.sharing.tlp.feed_audience`, GREEN at most by default), and an event that
would still carry TLP:RED is refused rather than written.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from krsn.errors import Invalid
from krsn.feeds.formats.misp_format import is_manifest
from krsn.sharing.misp.export import DEFAULT_ORG, export_event, galaxy_refs
from krsn.sharing.selection import Selection

MANIFEST = "manifest.json"
HASHES = "hashes.csv"
_MANIFEST_FIELDS = ("Orgc", "Tag", "info", "date", "analysis", "threat_level_id")


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """What one publish wrote."""

    directory: str
    event_uuid: str
    info: str
    attributes: int
    changed: bool
    """False when the event was already published exactly so."""
    feed_events: int
    """Events the feed's manifest lists after this publish."""
    galaxy_tags: list[str]
    withheld_by_tlp: int = 0
    """Objects of the selection TLP kept out of the feed."""
    max_tlp: str | None = None
    """The most restrictive TLP the feed was published with."""

    def as_dict(self) -> dict[str, Any]:
        """The summary as the CLI's ``--json`` prints it."""
        return {
            "directory": self.directory,
            "event_uuid": self.event_uuid,
            "info": self.info,
            "attributes": self.attributes,
            "changed": self.changed,
            "feed_events": self.feed_events,
            "galaxy_tags": self.galaxy_tags,
            "withheld_by_tlp": self.withheld_by_tlp,
            "max_tlp": self.max_tlp,
        }


def _write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def manifest_entry(event: dict[str, Any]) -> dict[str, Any]:
    """An event's line in ``manifest.json``, as PyMISP's feed generator writes it (numbers as
    numbers)."""
    body = event["Event"]
    entry = {name: body[name] for name in _MANIFEST_FIELDS if name in body}
    for name in ("analysis", "threat_level_id", "timestamp"):
        entry[name] = int(body[name])
    return entry


def attribute_hashes(event: dict[str, Any]) -> list[str]:
    """``hashes.csv`` lines of an event: the MD5 of each value (each part of a ``a|b`` one)."""
    body = event["Event"]
    attributes = list(body.get("Attribute") or ())
    for obj in body.get("Object") or ():
        attributes += obj.get("Attribute") or ()
    lines = []
    for attribute in attributes:
        value = str(attribute["value"])
        parts = value.split("|") if "|" in attribute["type"] else [value]
        lines += [f"{hashlib.md5(p.encode()).hexdigest()},{body['uuid']}" for p in parts]  # noqa: S324
    return lines


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise Invalid("directory", f"cannot read the feed's {MANIFEST}: {exc}") from None
    if document == {}:
        return {}
    if not is_manifest(document):
        raise Invalid("directory", f"{path} is not a MISP feed manifest; choose another folder")
    return dict(document)


def publish_feed(
    session: Session,
    *,
    selection: Selection,
    directory: str | Path,
    key: str | None = None,
    org: str = DEFAULT_ORG,
    now: datetime | None = None,
    max_tlp: str | None = None,
) -> PublishedEvent:
    """Write (or update) the selection's event in the MISP feed in ``directory``;
    ``max_tlp`` is the ceiling the selection was made for (for the summary)."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Invalid("directory", f"cannot create {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise Invalid("directory", f"{folder} is not a folder")
    manifest = _read_manifest(folder / MANIFEST)
    event = export_event(session, selection=selection, key=key, org=org, now=now)
    if any(tag["name"] == "tlp:red" for tag in event["Event"]["Tag"]):
        # The event's tag is the strictest of all it holds: nothing red is ever written.
        raise Invalid("selection", "TLP:RED never goes into a feed; select for a feed's audience")
    identifier = event["Event"]["uuid"]
    event_path = folder / f"{identifier}.json"
    data = _dumps(event)
    changed = not event_path.exists() or event_path.read_bytes() != data
    if changed:
        _write(event_path, data)
    manifest[identifier] = manifest_entry(event)
    _write(folder / MANIFEST, _dumps(manifest))
    hashes_path = folder / HASHES
    by_event: dict[str, list[str]] = {}
    if hashes_path.exists():
        for line in hashes_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                by_event.setdefault(line.rpartition(",")[2], []).append(line)
    by_event[identifier] = attribute_hashes(event)
    # In the manifest's order, so publishing an unchanged selection rewrites the same bytes.
    order = [*manifest, *(key for key in by_event if key not in manifest)]
    lines = [line for key in order for line in by_event.get(key, ())]
    _write(hashes_path, "".join(f"{line}\n" for line in lines).encode())
    return PublishedEvent(
        directory=str(folder),
        event_uuid=identifier,
        info=event["Event"]["info"],
        attributes=len(event["Event"]["Attribute"]),
        changed=changed,
        feed_events=len(manifest),
        galaxy_tags=galaxy_refs(event),
        withheld_by_tlp=selection.withheld_total,
        max_tlp=max_tlp,
    )
