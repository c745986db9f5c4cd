"""No input a client sends makes the API answer 5xx.

Every operation of the served OpenAPI document is called with generated path, query and
body values, valid by the schema or deliberately wrong, as an admin and as callers with no,
garbage or foreign credentials. Every answer must be under 500, and every 4xx a problem
document a person can act on.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.indicators.models import ThreatIndicator

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
PROBLEM_JSON = "application/problem+json"
METHODS = ("get", "post", "put", "patch", "delete")
# Signing out ends the shared admin session; it is called with a throwaway one instead.
LOGOUT = ("post", "/api/v1/auth/logout")


# --- The operations of the served document ---------------------------------------------------


@dataclass
class Operation:
    method: str
    path: str
    path_params: dict[str, dict[str, Any]]
    query_params: dict[str, dict[str, Any]]
    body_schema: dict[str, Any] | None
    components: dict[str, Any] = field(repr=False)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def operations_of(document: dict[str, Any]) -> list[Operation]:
    components = document.get("components", {}).get("schemas", {})
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            spec = item[method]
            params = spec.get("parameters", [])
            body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append(
                Operation(
                    method=method,
                    path=path,
                    path_params={p["name"]: p["schema"] for p in params if p["in"] == "path"},
                    query_params={p["name"]: p["schema"] for p in params if p["in"] == "query"},
                    body_schema=body.get("schema"),
                    components=components,
                )
            )
    return found


# --- Values: from the schema, and deliberately wrong ----------------------------------------

ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "%00",
        "\x00",
        "a\x00b",
        "..",
        "null",
        "None",
        "-1",
        "1e309",
        "NaN",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "${jndi:ldap://x}",
        "ß" * 300,
        "🦊" * 64,
        "\u202e\u200b\ufeff",
        "x" * 5000,
        ZERO_UUID,
        ZERO_UUID.upper(),
        "{" + ZERO_UUID + "}",
        ZERO_UUID.replace("-", ""),
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2024-02-30T00:00:00Z",
        "2024-01-01",
        "eyJhIjoxfQ",
        "WyIiLCIiXQ",
        "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0",
        "true",
        "2" * 40,
    ]
)
TEXT = st.one_of(ODD_TEXT, st.text(max_size=40), st.text(min_size=256, max_size=300))
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
# Bodies that JSON allows, with lone surrogates and NaN that it does not quite.
JUNK = st.recursive(
    st.one_of(SCALARS, st.just("\ud800"), st.just("\udfff x")),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(TEXT, st.just("\x00")), inner)
    ),
    max_leaves=12,
)
RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"null",
            b'"a string"',
            b"[]",
            b"[{}]",
            b"{",
            b'{"a": NaN}',
            b'{"name": Infinity, "value": -Infinity}',
            b"NaN",
            b'{"name": "\xff\xfe"}',
            b"\xff\xfe\x00\x00",
            b'{"name": "\\ud800"}',
            b'{"name": "a\\u0000b"}',
            b'{"name": "x"}\x00',
            b"[" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"value": 1' + b"0" * 400 + b"}",
            b"\xef\xbb\xbf{}",
        ]
    ),
)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


UUIDS = st.uuids().map(str)


def from_schema(
    schema: dict[str, Any],
    components: dict[str, Any],
    depth: int = 0,
    uuids: st.SearchStrategy[str] = UUIDS,
) -> st.SearchStrategy[Any]:
    """Values that a JSON schema (the subset FastAPI emits) allows; ``uuids`` draws the ids."""
    schema = _resolve(schema, components)
    if depth > 4:
        return st.none()
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema["oneOf"]
        return st.one_of([from_schema(s, components, depth + 1, uuids) for s in options])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    if kind == "string":
        return _string(schema, uuids)
    if kind == "array":
        items = from_schema(schema.get("items", {}), components, depth + 1, uuids)
        return st.lists(items, max_size=4)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if not properties:
            extra = schema.get("additionalProperties")
            values = (
                from_schema(extra, components, depth + 1, uuids)
                if isinstance(extra, dict)
                else JUNK
            )
            return st.dictionaries(st.text(max_size=20), values, max_size=4)
        return st.fixed_dictionaries(
            {
                k: from_schema(v, components, depth + 1, uuids)
                for k, v in properties.items()
                if k in required
            },
            optional={
                k: from_schema(v, components, depth + 1, uuids)
                for k, v in properties.items()
                if k not in required
            },
        )
    return JUNK  # an unconstrained value (``Any``)


def _string(schema: dict[str, Any], uuids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    fmt = schema.get("format")
    if fmt == "uuid":
        return uuids
    if fmt == "email":
        return st.emails().map(str)
    if fmt == "date-time":
        return st.datetimes(timezones=st.sampled_from([None, *_ZONES])).map(lambda d: d.isoformat())
    low, high = schema.get("minLength", 0), schema.get("maxLength", 300)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high
        )
    return st.text(min_size=low, max_size=min(high, 300))


def _zones() -> list[Any]:
    from datetime import timedelta, timezone

    return [timezone(timedelta(hours=h)) for h in (-14, -5, 0, 5, 14)]


_ZONES = _zones()


def wrongly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A schema-valid value, or one nudged out of shape: a field wrong, missing or extra."""

    def nudge(value: Any, data: st.DataObject) -> Any:
        if not isinstance(value, dict) or not data.draw(st.booleans()):
            return value
        value = dict(value)
        how = data.draw(st.sampled_from(["wrong", "drop", "extra", "nest"]))
        if how == "extra" or not value:
            value[data.draw(st.text(max_size=10))] = data.draw(JUNK)
        else:
            name = data.draw(st.sampled_from(sorted(value)))
            if how == "drop":
                del value[name]
            elif how == "nest":
                value[name] = {"$gt": "", "nested": [value[name], {"deep": [[[None]]]}]}
            else:
                value[name] = data.draw(JUNK)
        return value

    return st.tuples(good, st.data()).map(lambda pair: nudge(*pair))


# --- Who is calling ---------------------------------------------------------------------


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@dataclass(repr=False)
class Fuzzing:
    """The server under test and the admin whose session most requests use."""

    client: httpx.Client
    api: Any
    operations: list[Operation]
    known: dict[str, list[str]]
    admin_number: int = 0
    admin_cookie: str = ""
    admin_csrf: str = ""

    def sign_in_new_admin(self) -> None:
        """A fresh admin: the fuzz may have disabled, demoted or reset the previous one."""
        self.admin_number += 1
        name = f"fuzz-admin-{self.admin_number}"
        password = self.api.make_user(name, "admin")
        response = self.client.post(
            "/api/v1/auth/login", json={"username": name, "password": password}
        )
        assert response.status_code == 200, response.text
        self.admin_cookie = response.cookies["krsn_session"]
        self.admin_csrf = response.json()["csrf_token"]
        self.client.cookies.clear()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Fuzzing(...)")

    def known_value(self, name: str | None) -> st.SearchStrategy[str]:
        """An id the fuzz knows for this parameter (the list grows as the fuzz creates rows)."""

        def pick(index: int) -> str:
            everything = [value for values in self.known.values() for value in values]
            values = self.known.get(name or "") or everything
            return values[index % len(values)]

        # A fixed range keeps the draw the same shape while the list grows.
        return st.integers(0, 1023).map(pick)

    def known_uuid(self) -> st.SearchStrategy[str]:
        """A random id, or the id of a row the fuzz knows: bodies then name real rows too."""

        def pick(index: int) -> str:
            ids = [v for values in self.known.values() for v in values if _is_uuid(v)]
            return ids[index % len(ids)] if ids else ZERO_UUID

        return st.one_of(UUIDS, st.integers(0, 1023).map(pick))

    def remember(self, call: Call, response: httpx.Response) -> None:
        """Ids of what the fuzz created, so that later calls find real rows as well."""
        if response.status_code != 201 or call.operation.method != "post":
            return
        by_id = next(
            (
                name
                for op in self.operations
                for name in op.path_params
                if op.path == call.operation.path + "/{" + name + "}"
            ),
            None,
        )
        body = response.json()
        created = next((v for v in body.values() if isinstance(v, dict) and "id" in v), body)
        if by_id and isinstance(created.get("id"), str):
            self.known.setdefault(by_id, []).append(created["id"])

    def admin_is_usable(self) -> bool:
        me = self.client.get(
            "/api/v1/auth/me", headers={"Cookie": f"krsn_session={self.admin_cookie}"}
        )
        return (
            me.status_code == 200
            and "admin" in me.json()["permissions"]
            and not me.json()["user"]["must_change_password"]
        )

    def credentials(self, who: str) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and cookies for one kind of caller."""
        if who == "admin":
            return {"X-CSRF-Token": self.admin_csrf}, {"krsn_session": self.admin_cookie}
        if who == "admin-no-csrf":
            return {}, {"krsn_session": self.admin_cookie}
        if who == "garbage-bearer":
            return {"Authorization": "Bearer krsn_not-a-real-key"}, {}
        if who == "garbage-scheme":
            return {"Authorization": "Basic Zm9vOmJhcg=="}, {}
        if who == "garbage-cookie":
            return {"X-CSRF-Token": "x"}, {"krsn_session": "garbage;%00" + "A" * 500}
        return {}, {}


CALLERS = st.sampled_from(
    ["admin"] * 6
    + ["anonymous", "garbage-bearer", "garbage-scheme", "garbage-cookie"]
    + ["admin-no-csrf"]
)


@dataclass
class Call:
    operation: Operation
    who: str
    url: str
    params: list[tuple[str, str]]
    content: bytes | None
    content_type: str | None

    def __str__(self) -> str:
        body = None if self.content is None else self.content[:300]
        return (
            f"{self.operation} as {self.who}: {self.url} params={self.params!r} "
            f"content-type={self.content_type!r} body={body!r}"
        )


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@st.composite
def calls(draw: st.DrawFn, fuzz: Fuzzing) -> Call:
    operation = draw(st.sampled_from(fuzz.operations))
    url = operation.path
    for name, schema in operation.path_params.items():
        value = draw(
            st.one_of(
                fuzz.known_value(name),
                fuzz.known_value(name),
                st.just(ZERO_UUID),
                st.uuids().map(str),
                from_schema(schema, operation.components, uuids=fuzz.known_uuid()),
                TEXT.filter(lambda s: s not in {"", ".", ".."}),
            )
        )
        url = url.replace("{" + name + "}", quote(str(value), safe=""))
    params = []
    # Each optional parameter is another chance of a 4xx: one call in three sends none, or
    # an operation with many of them (a search) would hardly ever succeed.
    querying = draw(st.integers(0, 2)) != 0
    for name, schema in operation.query_params.items():
        if querying and draw(st.integers(0, 2)) == 0:
            good = from_schema(schema, operation.components, uuids=fuzz.known_uuid())
            value = draw(st.one_of(good, good, good, SCALARS, fuzz.known_value(None)))
            params.append((name, _query_value(value)))
    if draw(st.integers(0, 9)) == 0:
        params.append((draw(st.text(min_size=1, max_size=8)), draw(TEXT)))
    content: bytes | None = None
    content_type: str | None = "application/json"
    if operation.body_schema is not None or draw(st.integers(0, 4)) == 0:
        good = (
            from_schema(operation.body_schema, operation.components, uuids=fuzz.known_uuid())
            if operation.body_schema
            else JUNK
        )
        shape = draw(st.sampled_from(["schema"] * 4 + ["junk", "raw"]))
        if shape == "raw":
            content = draw(RAW_BODIES)
        else:
            value = draw(wrongly(good) if shape == "schema" else JUNK)
            content = json.dumps(value, allow_nan=True).encode()
        content_type = draw(
            st.sampled_from(
                ["application/json"] * 6
                + [
                    "text/plain",
                    "application/merge-patch+json",
                    "application/json; charset=latin-1",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    None,
                ]
            )
        )
    return Call(
        operation=operation,
        who=draw(CALLERS),
        url=url,
        params=params,
        content=content,
        content_type=content_type,
    )


# --- What every answer must be ---------------------------------------------------------------


def assert_acceptable(response: httpx.Response, what: object) -> None:
    """Under 500, and a 4xx is a problem document with a title and a detail."""
    assert response.status_code < 500, f"{response.status_code} for {what}: {response.text}"
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(PROBLEM_JSON), f"{content_type!r} for {what}"
    problem = response.json()
    assert isinstance(problem.get("title"), str) and problem["title"].strip(), what
    assert isinstance(problem.get("detail"), str) and problem["detail"].strip(), what
    assert problem.get("status") == response.status_code, what


def send(fuzz: Fuzzing, call: Call) -> httpx.Response:
    headers, cookies = fuzz.credentials(call.who)
    if call.content is not None and call.content_type is not None:
        headers["Content-Type"] = call.content_type
    request = fuzz.client.build_request(
        call.operation.method.upper(),
        call.url,
        params=call.params,
        content=call.content,
        headers=headers,
    )
    for name, value in cookies.items():
        # Set on the request itself: httpx refuses control characters in its cookie jar.
        request.headers["Cookie"] = f"{name}={value}"
    if call.content_type is None:
        request.headers.pop("Content-Type", None)
    return fuzz.client.send(request)


@pytest.fixture
def fuzz(api: Any, live_server: Any, db: Any) -> Iterator[Fuzzing]:
    live_server.use(db, user_rate_limit_per_minute=100_000)
    document = api.get("/api/v1/openapi.json").json()
    operations = [op for op in operations_of(document) if (op.method, op.path) != LOGOUT]
    with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
        fuzzing = Fuzzing(client=client, api=api, operations=operations, known={})
        fuzzing.sign_in_new_admin()
        admin = {"X-CSRF-Token": fuzzing.admin_csrf}
        cookies = {"krsn_session": fuzzing.admin_cookie}
        client.cookies.update(cookies)
        me = client.get("/api/v1/auth/me").json()["user"]["id"]
        org = client.post("/api/v1/organizations", json={"name": "Acme"}, headers=admin)
        key = client.post("/api/v1/api-keys", json={"name": "fuzz"}, headers=admin)
        config = client.put("/api/v1/system/config/fuzz.key", json={"value": 1}, headers=admin)
        assert org.status_code == 201 and key.status_code == 201 and config.status_code == 200
        made = {
            name: client.post(path, json=body, headers=admin)
            for name, path, body in [
                ("actor_id", "/api/v1/threat-actors", {"actor_name": "Fuzz Bear"}),
                ("campaign_id", "/api/v1/threat-campaigns", {"campaign_name": "Fuzz Storm"}),
                ("collection_id", "/api/v1/ioc-collections", {"name": "fuzz iocs"}),
                ("report_id", "/api/v1/threat-reports", {"title": "Fuzz report"}),
                ("feed", "/api/v1/feeds", {"template": "feodotracker"}),
                (
                    "technique_id",
                    "/api/v1/mitre-techniques",
                    {"technique_id": "T9999", "technique_name": "Fuzzing"},
                ),
            ]
        }
        assert all(r.status_code == 201 for r in made.values()), {
            n: r.text for n, r in made.items()
        }
        client.cookies.clear()
        indicators = seed_indicators(db)
        fuzzing.known = {
            "user_id": [me],
            "organization_id": [org.json()["id"]],
            "key_id": [key.json()["api_key"]["id"]],
            "key": ["fuzz.key", *indicators.values()],
            "indicator_id": list(indicators),
            "technique_id": ["T9999"],
            **{
                name: [response.json()["id"]]
                for name, response in made.items()
                if name != "technique_id"
            },
        }
        yield fuzzing


def seed_indicators(db: Any) -> dict[str, str]:
    """A few stored indicators (ids and values), for the routes that link or look them up."""
    values = ["198.51.100.7", "fuzz.example.com", "http://fuzz.example.com/a"]
    with db.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="fuzz")
    ingest(db, rows=[ParsedRow(line=n, value=v) for n, v in enumerate(values, 1)], source=source)
    with db.transaction(readonly=True) as session:
        rows = session.execute(select(ThreatIndicator.id, ThreatIndicator.indicator_value))
        return {str(row_id): value for row_id, value in rows}


def test_no_request_makes_the_api_answer_5xx(fuzz: Fuzzing) -> None:
    answered: dict[str, set[int]] = {str(op): set() for op in fuzz.operations}

    # About forty calls per operation, so each new route gets its share of the budget.
    @settings(
        max_examples=40 * len(fuzz.operations),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def every_answer_is_acceptable(data: st.DataObject) -> None:
        call = data.draw(calls(fuzz), label="call")
        response = send(fuzz, call)
        assert_acceptable(response, call)
        answered[str(call.operation)].add(response.status_code)
        fuzz.remember(call, response)
        signed_out = call.who == "admin" and response.status_code in (401, 403)
        if signed_out and not fuzz.admin_is_usable():
            fuzz.sign_in_new_admin()

    every_answer_is_acceptable()
    # A fuzz that only ever hears 4xx proves little: most operations must also succeed.
    succeeded = sorted(op for op, codes in answered.items() if any(c < 300 for c in codes))
    never = {op: sorted(codes) for op, codes in answered.items() if op not in succeeded}
    assert len(succeeded) >= len(answered) * 2 // 3, never


def test_the_fuzz_covers_every_operation_of_the_document(api: Any) -> None:
    document = api.get("/api/v1/openapi.json").json()
    operations = {str(op) for op in operations_of(document)}
    assert len(operations) >= 25
    # Signing out is the one operation fuzzed only below, with a session of its own.
    assert "POST /api/v1/auth/logout" in operations


# --- Shapes that deserve a named test ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"null", "application/json"),
        (b'"a string"', "application/json"),
        (b"[]", "application/json"),
        (b'{"name": "Acme"}', "text/plain"),
        (b'{"name": NaN}', "application/json"),
        (b'{"name": "\xff"}', "application/json"),
        (b'{"name": "\\ud800"}', "application/json"),
        (b'{"name": "a\\u0000b"}', "application/json"),
    ],
)
def test_bodies_of_the_wrong_kind_are_a_4xx_problem(
    api: Any, content: bytes, content_type: str
) -> None:
    api.login_as("root", "admin")
    for path in ("/api/v1/organizations", "/api/v1/auth/login"):
        response = api.post(path, content=content, headers={"Content-Type": content_type})
        assert 400 <= response.status_code < 500, (path, content, response.text)
        assert_acceptable(response, (path, content))


def test_unknown_ids_on_every_get_by_id_route_are_404(api: Any) -> None:
    api.login_as("root", "admin")
    document = api.get("/api/v1/openapi.json").json()
    by_id = [
        op
        for op in operations_of(document)
        if op.method == "get" and any(s.get("format") == "uuid" for s in op.path_params.values())
    ]
    assert by_id, "the document has no GET-by-id route"
    for operation in by_id:
        url = re.sub(r"\{[^}]+\}", ZERO_UUID, operation.path)
        response = api.get(url)
        assert response.status_code == 404, (url, response.text)
        assert_acceptable(response, url)
        assert ZERO_UUID in response.json()["detail"]


def test_basic_authorization_is_refused_with_a_hint_at_bearer(api: Any) -> None:
    response = api.get("/api/v1/auth/me", headers={"Authorization": "Basic cm9vdDpwYXNz"})
    assert response.status_code == 401
    assert_acceptable(response, "Basic auth")
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_cookie_authenticated_change_without_the_csrf_header_is_403(api: Any) -> None:
    api.login_as("root", "admin")
    del api.headers["X-CSRF-Token"]
    response = api.post("/api/v1/organizations", json={"name": "Acme"})
    assert response.status_code == 403
    assert_acceptable(response, "no CSRF header")
    assert response.json()["code"] == "csrf"
    assert "X-CSRF-Token" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(None, None), (b"null", "application/json"), (b"garbage", "text/plain")],
)
def test_signing_out_with_any_body_is_never_a_5xx(
    api: Any, content: bytes | None, content_type: str | None
) -> None:
    api.login_as("root", "admin")
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post("/api/v1/auth/logout", content=content, headers=headers)
    assert response.status_code == 204
    again = api.post("/api/v1/auth/logout")
    assert again.status_code == 401
    assert_acceptable(again, "logout twice")


def test_number_literals_json_forbids_are_malformed_json(api: Any) -> None:
    api.login_as("root", "admin")
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = api.put(
            "/api/v1/system/config/fuzz.nan",
            content=f'{{"value": {literal}}}'.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert_acceptable(response, literal)
        assert f"{literal} is not a JSON number" in response.json()["detail"]


# --- What the fuzz found, kept as examples ------------------------------------------------------


def test_every_api_route_checks_its_input_as_storable_text(api: Any) -> None:
    # A route built without krsn.routing.ApiRoute would ignore the stray parameter.
    document = api.get("/api/v1/openapi.json").json()
    for operation in operations_of(document):
        if not operation.path.startswith("/api/"):
            continue
        url = re.sub(r"\{[^}]+\}", ZERO_UUID, operation.path)
        response = api.request(operation.method.upper(), url, params={"probe": "a\x00b"})
        assert response.status_code == 422, (str(operation), response.text)
        assert response.json()["field"] == "probe", str(operation)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"name": "a\\u0000b"}', "name"),
        (b'{"name": "ok", "contact_info": {"phones": ["1", "\\ud83d"]}}', "contact_info.phones.1"),
    ],
)
def test_text_no_engine_can_store_is_refused_naming_the_field(
    api: Any, content: bytes, field: str
) -> None:
    api.login_as("root", "admin")
    response = api.post(
        "/api/v1/organizations", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    in_query = api.get("/api/v1/users", params={"q": "a\x00b"})
    assert in_query.status_code == 422 and in_query.json()["field"] == "q"


def test_times_beyond_the_utc_range_are_refused(api: Any) -> None:
    api.login_as("root", "admin")
    since = api.get("/api/v1/audit-logs", params={"since": "0001-01-01T00:00:00+14:00"})
    assert since.status_code == 422 and "out of range" in since.json()["detail"]
    key = api.post(
        "/api/v1/api-keys", json={"name": "k", "expires_at": "9999-12-31T23:59:59-14:00"}
    )
    assert key.status_code == 422 and "expires_at" in key.json()["detail"]


@pytest.mark.parametrize(
    "values",
    [["0001-01-01T00:00:00+14:00", ZERO_UUID], ["2024-01-01T00:00:00", 5], ["a\x00", ZERO_UUID]],
)
def test_forged_cursors_are_a_422(api: Any, values: list[Any]) -> None:
    import base64

    api.login_as("root", "admin")
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    response = api.get("/api/v1/audit-logs", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "cursor"


def test_a_name_that_differs_only_beyond_ascii_case_is_a_conflict(api: Any) -> None:
    api.login_as("root", "admin")
    assert api.post("/api/v1/organizations", json={"name": "Ärzte"}).status_code == 201
    again = api.post("/api/v1/organizations", json={"name": "Ärzte"})
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "name"


def test_an_admin_cannot_delete_their_own_account(api: Any) -> None:
    api.login_as("root", "admin")
    api.make_user("second", "admin")
    me = api.get("/api/v1/auth/me").json()["user"]["id"]
    response = api.delete(f"/api/v1/users/{me}")
    assert response.status_code == 409, response.text
    assert "another admin" in response.json()["detail"]
