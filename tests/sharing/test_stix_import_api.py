"""``POST /api/v1/stix/bundles`` against the real app, on both engines."""

from __future__ import annotations

import gzip
import json
from typing import Any

from support import shared_data

URL = "/api/v1/stix/bundles"


def apt1() -> bytes:
    return shared_data("stix", "oasis-docs", "apt1.json").read_bytes()


def post(api: Any, body: bytes, content_type: str = "application/json", **params: Any) -> Any:
    return api.post(URL, content=body, headers={"Content-Type": content_type}, params=params)


def test_an_analyst_uploads_a_bundle_and_reads_the_summary(api: Any) -> None:
    api.login_as("ana", "analyst")
    body = apt1()
    objects = json.loads(body)["objects"]

    response = post(api, body, source="OASIS")

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["objects"] == len(objects)
    assert summary["source"] == "OASIS"
    assert summary["total"]["created"] + summary["total"]["kept"] == len(objects)
    again = post(api, body, source="OASIS").json()
    assert again["total"]["unchanged"] == len(objects)


def test_a_gzipped_file_is_accepted(api: Any) -> None:
    api.login_as("ana", "analyst")

    response = post(api, gzip.compress(apt1()), "application/octet-stream")

    assert response.status_code == 200, response.text
    assert response.json()["objects"] == len(json.loads(apt1())["objects"])


def test_a_plain_user_may_not_upload(api: Any) -> None:
    api.login_as("ursula", "user")

    assert post(api, apt1()).status_code == 403


def test_bad_documents_answer_problem_details(api: Any) -> None:
    api.login_as("ana", "analyst")

    broken = post(api, b'{"type": "bundle", "objects": [')
    not_bundle = post(api, b'{"hello": "world"}')
    empty = post(api, b"")

    for response in (broken, not_bundle, empty):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert "not JSON" in broken.json()["detail"]


def test_bad_objects_are_listed_and_good_ones_imported(api: Any) -> None:
    api.login_as("ana", "analyst")
    data = json.loads(apt1())
    good = len(data["objects"])
    data["objects"].insert(0, {"type": "malware"})

    summary = post(api, json.dumps(data).encode()).json()

    assert summary["errors"] == [{"position": 1, "id": None, "type": "malware", "reason": "no id"}]
    assert summary["total"]["created"] + summary["total"]["kept"] == good


def test_a_bundle_over_the_cap_is_refused(api: Any, live_server: Any) -> None:
    api.login_as("ana", "analyst")
    body = apt1()
    live_server.use(api.database, max_body_bytes=len(body) - 1)

    response = post(api, body)

    assert response.status_code == 413
    small_gzip = gzip.compress(body)
    assert len(small_gzip) < len(body) - 1
    assert post(api, small_gzip, "application/gzip").status_code == 413
