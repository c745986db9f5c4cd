"""custom: a JSON endpoint with pagination and credentials, and uploaded files, mapped."""

from __future__ import annotations

import base64
import json

import pytest
from collector_support import RECORDINGS, local_client, run

from krsn.osint.collectors.base import CollectorContext
from krsn.osint.collectors.custom import CustomCollector, CustomConfig
from krsn.osint.collectors.http import CollectorError
from krsn.osint.models import EntityType

MAPPING = {
    "id": "uid",
    "text": "summary",
    "url": "link",
    "published_at": "observed",
    "entities": {
        "domain": "indicators.domains",
        "ip_address": "indicators.ips",
        "hash": "hash",
    },
}


def test_an_endpoint_is_paged_by_next_link_and_mapped(site) -> None:
    page1 = (
        (RECORDINGS / "custom_page1.json")
        .read_text()
        .replace("NEXT_URL", f"{site.base}/events?cursor=2")
    )
    site.routes["/events"] = lambda path: (
        (200, "application/json", (RECORDINGS / "custom_page2.json").read_bytes())
        if "cursor=2" in path
        else (200, "application/json", page1.encode())
    )
    context = CollectorContext(client=local_client(), credentials={"token": "s3cret"})
    config = {
        "url": f"{site.base}/events",
        "items_path": "data.results",
        "pagination": "next_link",
        "next_path": "next",
        "item_type": "event",
        "mapping": MAPPING,
    }
    result = run(CustomCollector(), config, context)
    assert [r.raw["uid"] for r in result.records] == ["evt-1", "evt-2", "evt-3"]
    first = result.records[0]
    assert first.item_type == "event"
    assert first.text == "Beacon to c2.badhost.example.net from 203.0.113.99"
    assert first.url == "https://intel.example/events/1"
    assert first.published_at is not None and first.published_at.day == 1
    assert {(e.entity_type, e.value) for e in first.entities} == {
        (EntityType.DOMAIN, "c2.badhost.example.net"),
        (EntityType.IP_ADDRESS, "203.0.113.99"),
    }
    assert [(e.entity_type, e.value) for e in result.records[1].entities] == [
        (EntityType.HASH, "d41d8cd98f00b204e9800998ecf8427e")
    ]
    assert first.hash_basis == f"custom|{site.base}/events|evt-1"
    assert all(h["Authorization"] == "Bearer s3cret" for *_, h in site.requests)


def test_page_number_pagination_stops_at_an_empty_page(site) -> None:
    def pages(path: str) -> tuple[int, str, bytes]:
        number = int(path.rsplit("page=", 1)[1].split("&")[0])
        rows = [{"n": number}] if number <= 2 else []
        return 200, "application/json", json.dumps(rows).encode()

    site.routes["/rows"] = pages
    config = {
        "url": f"{site.base}/rows",
        "pagination": "page",
        "params": {"size": 1},
        "mapping": {"text": "n"},
    }
    result = run(CustomCollector(), config)
    assert [r.raw for r in result.records] == [{"n": 1}, {"n": 2}]
    assert site.paths() == ["/rows?size=1&page=1", "/rows?size=1&page=2", "/rows?size=1&page=3"]


def test_an_uploaded_csv_is_mapped_like_an_endpoint() -> None:
    csv = "id,host,note\n1,evil.example.com,seen twice\n2,198.51.100.9,scanner\n"
    config = {
        "upload": {
            "filename": "iocs.csv",
            "content_base64": base64.b64encode(csv.encode()).decode(),
        },
        "mapping": {
            "id": "id",
            "text": "note",
            "entities": {"domain": "host", "ip_address": "host"},
        },
    }
    result = run(CustomCollector(), config)
    assert [[(e.entity_type, e.value) for e in r.entities] for r in result.records] == [
        [(EntityType.DOMAIN, "evil.example.com")],
        [(EntityType.IP_ADDRESS, "198.51.100.9")],
    ]
    assert result.records[0].file_info == {"filename": "iocs.csv", "size": len(csv)}


def test_uploaded_json_lines_go_through_records_from_file() -> None:
    data = b'{"who": "Alice Example", "mail": "alice@example.org"}\n{"who": "Bob"}\n'
    config = CustomConfig.model_validate(
        {
            "upload": {"filename": "x.jsonl", "content_base64": "e30="},
            "mapping": {"title": "who", "entities": {"person": "who", "email": "mail"}},
        }
    )
    context = CollectorContext(client=local_client())
    records = list(
        CustomCollector().records_from_file(
            data, filename="people.jsonl", config=config, context=context
        )
    )
    assert [r.title for r in records] == ["Alice Example", "Bob"]
    assert {(e.entity_type, e.value) for e in records[0].entities} == {
        (EntityType.PERSON, "Alice Example"),
        (EntityType.EMAIL, "alice@example.org"),
    }


def test_rows_that_are_not_where_the_config_says_are_a_clear_error(site) -> None:
    site.serve("/events", '{"data": {"results": {"not": "a list"}}}')
    config = {"url": f"{site.base}/events", "items_path": "data.results"}
    with pytest.raises(CollectorError, match=r"no list of rows at data\.results"):
        run(CustomCollector(), config)
