"""``POST /api/v1/extract``: a JSON text or an uploaded file in, findings out."""

from __future__ import annotations

from pathlib import Path

EXTRACT = "/api/v1/extract"
FIXTURES = Path(__file__).parent / "fixtures"


def test_a_json_text_answers_every_finding(api):
    api.login_as("rita", "user")
    text = "C2 hxxp://evil[.]example[.]com/gate and 198.51.100.9; John Smith of Acme Ltd."
    response = api.post(EXTRACT, json={"text": text, "ner": False})
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [(r["entity_type"], r["canonical"]) for r in rows] == [
        ("url", "http://evil.example.com/gate"),
        ("ip_address", "198.51.100.9"),
    ]
    first = rows[0]
    assert (
        text[first["start"] : first["end"]] == first["value"] == "hxxp://evil[.]example[.]com/gate"
    )


def test_types_limit_a_json_request(api):
    api.login_as("rita", "user")
    response = api.post(EXTRACT, json={"text": "evil.com CVE-2020-0601", "types": ["cve"]})
    assert [r["canonical"] for r in response.json()] == ["CVE-2020-0601"]


def test_an_uploaded_email_is_read_then_searched(api):
    api.login_as("rita", "user")
    response = api.post(
        EXTRACT,
        content=(FIXTURES / "phishing.eml").read_bytes(),
        headers={"Content-Type": "message/rfc822"},
        params={"type": ["url", "phone"]},
    )
    assert response.status_code == 200, response.text
    assert [(r["entity_type"], r["canonical"]) for r in response.json()] == [
        ("url", "https://pay-portal.top/inv/4471"),
        ("phone", "+442079460958"),
    ]


def test_bad_requests_are_refused_with_a_reason(api):
    api.login_as("rita", "user")
    unknown = api.post(EXTRACT, json={"text": "x", "types": ["planet"]})
    assert unknown.status_code == 422
    assert "types" in unknown.json()["detail"]
    broken = api.post(
        EXTRACT, content=b"%PDF-1.4 junk", headers={"Content-Type": "application/pdf"}
    )
    assert broken.status_code == 422
    assert "PDF" in broken.json()["detail"]
    archive = api.post(EXTRACT, content=b"PK\x03\x04", headers={"Content-Type": "application/zip"})
    assert archive.status_code == 422


def test_extraction_needs_a_signed_in_user(api):
    assert api.post(EXTRACT, json={"text": "evil.com"}).status_code == 401
