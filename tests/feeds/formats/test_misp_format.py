"""The MISP format: real events in every export shape, and MISP feeds (manifest + events)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.misp_format import MispFormat, manifest_entries, parse_feed_directory

# The attribute types this test expects as rows, and how many rows each gives.
ROWS_PER_TYPE = {
    **dict.fromkeys(
        ["ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain", "hostname", "url", "uri"], 1
    ),
    **dict.fromkeys(["md5", "sha1", "sha256", "sha512", "hostname|port"], 1),
    **dict.fromkeys([f"filename|{h}" for h in ("md5", "sha1", "sha256", "sha512")], 1),
    **dict.fromkeys(["email", "email-src", "email-dst", "email-reply-to"], 1),
    "whois-registrant-email": 1,
    "domain|ip": 2,
}


def events(document):
    """The events of any export shape, read plainly."""
    items = (
        document["response"]
        if isinstance(document, dict) and "response" in document
        else [document]
    )
    return [item.get("Event", item) for item in items]


def attributes(event):
    found = list(event.get("Attribute", []))
    for obj in event.get("Object", []):
        found.extend(obj.get("Attribute", []))
    return found


def expected_rows(document) -> int:
    return sum(
        ROWS_PER_TYPE.get(a["type"], 0)
        for event in events(document)
        for a in attributes(event)
        if not a.get("deleted")
    )


MISP_FILES = [
    ("pymisp", "57c4445b-c548-4654-af0b-4be3950d210f.json"),
    ("pymisp", "existing_event.json"),
    ("pymisp", "galaxy_1.json"),
    ("pymisp", "long_event.json"),
    ("pymisp", "mainly_objects_1.json"),
    ("pymisp", "sighting_1.json"),
    ("eset", "misp-ramsay.json"),
    ("eset", "misp.event_2021-06-09_gelsemium-when-threat-actors-go-gardening.json"),
    ("eset", "signsight-misp-event.json"),
    ("misp-stix-pairs", "test_events_collection_1.json"),
]


@pytest.mark.parametrize(("folder", "name"), MISP_FILES)
def test_every_indicator_attribute_becomes_a_row(shared_data, parse, folder, name):
    path = shared_data("misp", folder, name)
    document = json.loads(path.read_text(encoding="utf-8"))
    rows, errors = parse("misp", path)
    assert errors == []
    assert len(rows) == expected_rows(document) > 0
    uuids = {a["uuid"] for event in events(document) for a in attributes(event)}
    assert {r.extra["attribute_uuid"] for r in rows} <= uuids
    infos = {event["info"] for event in events(document)}
    assert {r.description for r in rows} <= infos


def test_small_event_values_kinds_tags_and_tlp(shared_data, parse):
    path = shared_data("misp", "pymisp", "57c4445b-c548-4654-af0b-4be3950d210f.json")
    event = json.loads(path.read_text(encoding="utf-8"))["Event"]
    hashes = {a["type"]: a for a in event["Attribute"] if a["type"] in ("md5", "sha1", "sha256")}
    rows, _ = parse("misp", path)
    assert [(r.kind, r.value) for r in rows] == [(t, a["value"]) for t, a in hashes.items()]
    tags = [t["name"] for t in event["Tag"]]
    tlp = [t for t in tags if t.startswith("tlp:")]
    assert rows[0].tags == tuple(t for t in tags if not t.startswith("tlp:"))
    assert rows[0].extra["tlp"] == tlp[0]
    first = next(iter(hashes.values()))
    assert rows[0].first_seen == datetime.fromtimestamp(int(first["timestamp"]), UTC)
    assert rows[0].extra["event_uuid"] == event["uuid"]
    assert rows[0].extra["to_ids"] is bool(first["to_ids"])


def test_objects_attributes_and_malware_galaxy(shared_data, parse):
    path = shared_data("misp", "pymisp", "mainly_objects_1.json")
    event = json.loads(path.read_text(encoding="utf-8"))["Event"]
    assert event.get("Attribute", []) == []
    malpedia = next(
        t["name"] for t in event["Tag"] if t["name"].startswith("misp-galaxy:malpedia=")
    )
    rows, _ = parse("misp", path)
    assert rows and all("object_name" in r.extra for r in rows)
    assert {r.malware_family for r in rows} == {malpedia.split('"')[1]}
    without_objects, _ = parse("misp", path, {"include_objects": False})
    assert without_objects == []


def test_rows_not_for_detection_are_kept_and_marked(shared_data, parse):
    path = shared_data("misp", "eset", "signsight-misp-event.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    flagged = [
        a for event in events(document) for a in attributes(event) if a["type"] in ROWS_PER_TYPE
    ]
    rows, _ = parse("misp", path)
    assert [r.extra["to_ids"] for r in rows] == [bool(a["to_ids"]) for a in flagged]
    assert False in [r.extra["to_ids"] for r in rows]
    only_ids, _ = parse("misp", path, {"to_ids_only": True})
    assert len(only_ids) == sum(1 for a in flagged if a["to_ids"])
    pair = next(a for a in flagged if a["type"].startswith("filename|"))
    row = next(r for r in rows if r.extra["attribute_uuid"] == pair["uuid"])
    filename, digest = pair["value"].split("|")
    assert (row.value, row.kind, row.extra["filename"]) == (digest, pair["type"][9:], filename)


def test_object_collections_without_an_event(shared_data, parse):
    path = shared_data("misp", "misp-stix-pairs", "test_objects_collection_2.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    objects = [item["Object"] for item in document["response"]]
    domain_ip = next(o for o in objects if o["name"] == "domain-ip")
    values = [a["value"] for a in domain_ip["Attribute"] if a["type"] in ("domain", "ip-dst")]
    rows, _ = parse("misp", path)
    assert [r.value for r in rows] == values
    assert all(r.description is None and "event_uuid" not in r.extra for r in rows)


def test_composite_types_split_into_their_indicators(parse):
    event = {
        "Event": {
            "info": "synthetic",
            "Tag": [{"name": "tlp:green"}],
            "Attribute": [
                {
                    "type": "domain|ip",
                    "value": "a.example|192.0.2.1",
                    "uuid": "u1",
                    "timestamp": "1700000000",
                },
                {"type": "ip-dst|port", "value": "192.0.2.2|8080", "uuid": "u2", "to_ids": "0"},
                {"type": "hostname|port", "value": "b.example|443", "uuid": "u3"},
                {
                    "type": "email-dst",
                    "value": "x@c.example",
                    "uuid": "u4",
                    "Tag": [{"name": "tlp:red"}],
                },
                {"type": "comment", "value": "ignored", "uuid": "u5"},
                {"type": "url", "value": "http://d.example/", "uuid": "u6", "deleted": True},
                {
                    "type": "md5",
                    "value": "abc",
                    "uuid": "u7",
                    "first_seen": "2023-01-01T00:00:00+00:00",
                    "timestamp": "1",
                },
                {"type": "md5", "value": 5, "uuid": "u8"},
                {"type": "sha1", "value": "x", "uuid": "u9", "timestamp": "soon"},
            ],
        }
    }
    rows, errors = parse("misp", json.dumps(event).encode())
    assert [(r.line, r.value, r.kind) for r in rows] == [
        (1, "a.example", "domain"),
        (1, "192.0.2.1", None),
        (2, "192.0.2.2", None),
        (3, "b.example", "domain"),
        (4, "x@c.example", "email"),
        (7, "abc", "md5"),
    ]
    assert rows[2].extra["port"] == "8080" and rows[2].extra["to_ids"] is False
    assert rows[0].extra["tlp"] == "tlp:green" and rows[4].extra["tlp"] == "tlp:red"
    assert rows[5].first_seen == datetime(2023, 1, 1, tzinfo=UTC)
    assert [e.line for e in errors] == [8, 9]


def test_stix_and_other_documents_are_not_misp(shared_data, parse):
    with pytest.raises(FormatError, match="not MISP"):
        parse("misp", shared_data("misp", "misp-stix-pairs", "test_event1_stix21.json"))
    with pytest.raises(FormatError, match="not valid JSON"):
        parse("misp", shared_data("feeds", "abusech-feodo", "ipblocklist.csv"))


def _manifest(paths: dict[str, Path], extra: dict[str, int] | None = None) -> bytes:
    manifest = {}
    for uuid, path in paths.items():
        event = json.loads(path.read_text(encoding="utf-8"))["Event"]
        manifest[uuid] = {"info": event["info"], "timestamp": event["timestamp"], "Tag": []}
    for uuid, timestamp in (extra or {}).items():
        manifest[uuid] = {"info": "missing", "timestamp": str(timestamp)}
    return json.dumps(manifest).encode()


def test_a_feed_directory_reads_every_listed_event(shared_data, tmp_path: Path):
    name = "57c4445b-c548-4654-af0b-4be3950d210f"
    event_path = shared_data("misp", "pymisp", f"{name}.json")
    missing = "00000000-0000-4000-8000-000000000000"
    (tmp_path / "manifest.json").write_bytes(
        _manifest({name: event_path}, {missing: 1_000_000_000})
    )
    (tmp_path / f"{name}.json").symlink_to(event_path)  # the real file, not a copy
    items = list(parse_feed_directory(tmp_path))
    rows = [i for i in items if isinstance(i, ParsedRow)]
    errors = [i for i in items if isinstance(i, ParseError)]
    alone = list(MispFormat().parse(event_path.open("rb"), {}))
    assert [r.value for r in rows] == [r.value for r in alone if isinstance(r, ParsedRow)]
    assert len(errors) == 1 and missing in errors[0].reason
    since = datetime(2010, 1, 1, tzinfo=UTC)  # after the missing event, before the real one
    assert list(parse_feed_directory(tmp_path, since=since)) == rows


def test_parse_feed_opens_events_through_the_given_function(shared_data):
    paths = {
        "57c4445b-c548-4654-af0b-4be3950d210f": shared_data(
            "misp", "pymisp", "57c4445b-c548-4654-af0b-4be3950d210f.json"
        ),
        "5b646415-7b48-40d5-86b4-c0070acd0835": shared_data("misp", "pymisp", "sighting_1.json"),
    }
    manifest = _manifest(paths)
    opened: list[str] = []

    def open_event(uuid: str):
        opened.append(uuid)
        return paths[uuid].open("rb")

    items = list(MispFormat().parse_feed(io.BytesIO(manifest), open_event, {}))
    assert opened == list(paths)
    assert all(isinstance(i, ParsedRow) for i in items)
    assert [i.line for i in items] == sorted(i.line for i in items)
    entries = manifest_entries(io.BytesIO(manifest))
    assert [e.uuid for e in entries] == list(paths)
    assert entries[0].timestamp is not None
    with pytest.raises(FormatError, match="manifest"):
        list(MispFormat().parse(io.BytesIO(manifest), {}))
