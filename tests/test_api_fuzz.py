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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from krsn.config import Settings
from krsn.detection.notify.delivery import deliver_due
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
    required_query: frozenset[str] = frozenset()

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
                    required_query=frozenset(
                        p["name"] for p in params if p["in"] == "query" and p.get("required")
                    ),
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


Named = Callable[[str], st.SearchStrategy[str] | None]


def from_schema(
    schema: dict[str, Any],
    components: dict[str, Any],
    depth: int = 0,
    uuids: st.SearchStrategy[str] = UUIDS,
    named: Named | None = None,
    known: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Any]:
    """Values that a JSON schema (the subset FastAPI emits) allows; ``uuids`` draws the ids.

    ``named`` gives the known values of the kind a property names (``alert_id``,
    ``indicators``); ``known`` those of the value drawn, which its text may also take.
    """
    schema = _resolve(schema, components)
    if depth > 4:
        return st.none()

    def inner(
        schema: dict[str, Any], known: st.SearchStrategy[str] | None = known
    ) -> st.SearchStrategy[Any]:
        return from_schema(schema, components, depth + 1, uuids, named, known)

    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema["oneOf"]
        return st.one_of([inner(s) for s in options])
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
        text = _string(schema, uuids)
        return text if known is None else st.one_of(text, known)
    if kind == "array":
        return st.lists(inner(schema.get("items", {})), max_size=4)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if not properties:
            extra = schema.get("additionalProperties")
            values = inner(extra, None) if isinstance(extra, dict) else JUNK
            return st.dictionaries(st.text(max_size=20), values, max_size=4)
        fields = {k: inner(v, named(k) if named else None) for k, v in properties.items()}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
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


# How to make one more row of a kind the fuzz deletes, by the path parameter naming it: the
# seeds, and a replacement when the fuzz has deleted every row of the kind it knew.
MAKERS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "organization_id": ("/api/v1/organizations", lambda n: {"name": f"Acme {n}"}),
    "actor_id": ("/api/v1/threat-actors", lambda n: {"actor_name": f"Fuzz Bear {n}"}),
    "campaign_id": ("/api/v1/threat-campaigns", lambda n: {"campaign_name": f"Fuzz Storm {n}"}),
    "collection_id": ("/api/v1/ioc-collections", lambda n: {"name": f"fuzz iocs {n}"}),
    "report_id": ("/api/v1/threat-reports", lambda n: {"title": f"Fuzz report {n}"}),
    "feed": ("/api/v1/feeds", lambda n: {"template": "feodotracker", "name": f"fuzz feed {n}"}),
    "watchlist_id": (
        "/api/v1/watchlists",
        lambda n: {"name": f"fuzz watch {n}", "list_type": "domain_blacklist"},
    ),
    "rule_id": (
        "/api/v1/correlation-rules",
        lambda n: {
            "name": f"fuzz rule {n}",
            "rule_type": "pattern",
            "rule_definition": {"condition": {"field": "kind", "op": "eq", "value": "domain"}},
        },
    ),
    "channel_id": (
        "/api/v1/notifications/channels",
        lambda n: {
            "name": f"fuzz mail {n}",
            "notification_type": "email",
            "config": {"to": ["fuzz@example.org"]},
            "min_severity": "info",
        },
    ),
}
# Body fields and query parameters that name a kind of row in other words than its path
# parameter does.
ALIASES = {
    "assigned_user_id": "user_id",
    "assigned_analyst_id": "user_id",
    "author_id": "user_id",
    "watchlist_item_id": "item_id",
    "value": "key",
}


@dataclass(repr=False)
class Fuzzing:
    """The server under test and the admin whose session most requests use."""

    client: httpx.Client
    api: Any
    operations: list[Operation]
    known: dict[str, list[str]]
    # (parent, child) ids a nested route takes together, by its two path parameter names:
    # an item and its watchlist, an alert linked to an incident.
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)
    admin_number: int = 0
    admin_cookie: str = ""
    admin_csrf: str = ""
    made: int = 0
    kinds: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.kinds = frozenset(name for op in self.operations for name in op.path_params)

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

    def known_for(self, name: str) -> st.SearchStrategy[str] | None:
        """Known ids of the kind a body field or query parameter names (``alert_id``,
        ``indicators``, ``actor``, ``assigned_user_id``): a kind some route takes as a path
        parameter. Decided by the name alone, so that the draws keep one shape."""
        singular = name.removesuffix("s")
        for kind in (ALIASES.get(name), name, singular, f"{singular}_id"):
            if kind in self.kinds:
                return self.known_value(kind)
        return None

    def known_pair(self, names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str] | None]:
        """In one call in three, ids a nested route takes together (an item with its own
        watchlist): drawn one by one, a child hardly ever meets its parent."""

        def pick(choice: tuple[int, int]) -> dict[str, str] | None:
            use, index = choice
            pairs = self.pairs.get((names[0], names[-1])) if len(names) == 2 else None
            if use != 0 or not pairs:
                return None
            return dict(zip(names, pairs[index % len(pairs)], strict=True))

        return st.tuples(st.integers(0, 2), st.integers(0, 1023)).map(pick)

    def make(self, name: str) -> httpx.Response:
        """Create one more row of a kind in ``MAKERS``, as the admin."""
        path, body = MAKERS[name]
        self.made += 1
        request = self.client.build_request(
            "POST", path, json=body(self.made), headers={"X-CSRF-Token": self.admin_csrf}
        )
        request.headers["Cookie"] = f"krsn_session={self.admin_cookie}"
        return self.client.send(request)

    def known_uuid(self) -> st.SearchStrategy[str]:
        """A random id, or the id of a row the fuzz knows: bodies then name real rows too."""

        def pick(index: int) -> str:
            ids = [v for values in self.known.values() for v in values if _is_uuid(v)]
            return ids[index % len(ids)] if ids else ZERO_UUID

        return st.one_of(UUIDS, st.integers(0, 1023).map(pick))

    def remember(self, call: Call, response: httpx.Response) -> None:
        """Ids of what the fuzz created, so that later calls find real rows as well; and
        of what it deleted, so that they stop looking for it."""
        if call.operation.method == "delete" and response.status_code < 300:
            self.forget(call)
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
        parents = list(call.operation.path_params)
        # A link (an alert to an incident) names the child itself or holds it whole.
        child = body.get(by_id) if by_id else None
        child = child if isinstance(child, str) else created.get("id")
        if by_id and len(parents) == 1 and isinstance(child, str):
            parent = call.path_values[parents[0]]
            self.pairs.setdefault((parents[0], by_id), []).append((parent, child))

    def forget(self, call: Call) -> None:
        """Drop what a successful DELETE removed: a row (and its links), or one link. A kind
        in ``MAKERS`` whose every known row is gone gets a new one."""
        names = list(call.operation.path_params)
        values = tuple(call.path_values[name] for name in names)
        if len(names) == 2:
            links = self.pairs.get((names[0], names[1]), [])
            self.pairs[(names[0], names[1])] = [pair for pair in links if pair != values]
            return
        if len(names) != 1 or values[0] not in self.known.get(names[0], []):
            return
        name, gone = names[0], values[0]
        if not _is_uuid(gone):
            return  # A name such as a config key: the fuzz may write it again.
        self.known[name] = [value for value in self.known[name] if value != gone]
        for (parent, child), links in self.pairs.items():
            if parent == name:
                self.pairs[(parent, child)] = [pair for pair in links if pair[0] != gone]
        if not self.known[name] and name in MAKERS:
            response = self.make(name)
            if response.status_code == 201:
                self.known[name].append(response.json()["id"])

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
    path_values: dict[str, str] = field(default_factory=dict)

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
    path_values: dict[str, str] = {}
    paired = draw(fuzz.known_pair(tuple(operation.path_params)))
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
        # Drawn all the same: the draws keep one shape whatever the fuzz has learnt.
        value = paired[name] if paired else value
        path_values[name] = str(value)
        url = url.replace("{" + name + "}", quote(str(value), safe=""))
    params = []
    # Each optional parameter is another chance of a 4xx: one call in three sends none, or
    # an operation with many of them (a search) would hardly ever succeed. A required one
    # is left out in one call in three.
    querying = draw(st.integers(0, 2)) != 0
    for name, schema in operation.query_params.items():
        if name in operation.required_query:
            sending = draw(st.integers(0, 2)) != 0
        else:
            sending = querying and draw(st.integers(0, 2)) == 0
        if sending:
            good = from_schema(
                schema,
                operation.components,
                uuids=fuzz.known_uuid(),
                known=fuzz.known_for(name),
            )
            value = draw(st.one_of(good, good, good, SCALARS, fuzz.known_value(None)))
            params.append((name, _query_value(value)))
    if draw(st.integers(0, 9)) == 0:
        params.append((draw(st.text(min_size=1, max_size=8)), draw(TEXT)))
    content: bytes | None = None
    content_type: str | None = "application/json"
    if operation.body_schema is not None or draw(st.integers(0, 4)) == 0:
        good = (
            from_schema(
                operation.body_schema,
                operation.components,
                uuids=fuzz.known_uuid(),
                named=fuzz.known_for,
            )
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
        path_values=path_values,
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
        key = client.post("/api/v1/api-keys", json={"name": "fuzz"}, headers=admin)
        config = client.put("/api/v1/system/config/fuzz.key", json={"value": 1}, headers=admin)
        technique = client.post(
            "/api/v1/mitre-techniques",
            json={"technique_id": "T9999", "technique_name": "Fuzzing"},
            headers=admin,
        )
        made = {name: fuzzing.make(name) for name in MAKERS}
        answers = {"key": key, "config": config, "technique": technique, **made}
        assert all(r.status_code in (200, 201) for r in answers.values()), {
            n: r.text for n, r in answers.items() if r.status_code not in (200, 201)
        }
        source, indicators = seed_indicators(db)
        fuzzing.known = {
            "user_id": [me],
            "source_id": [source],
            "key_id": [key.json()["api_key"]["id"]],
            "key": ["fuzz.key", *indicators.values()],
            "indicator_id": list(indicators),
            "technique_id": ["T9999"],
            **{name: [response.json()["id"]] for name, response in made.items()},
        }
        fuzzing.pairs = seed_links(client, admin, fuzzing.known)
        detection, incident_links = seed_detection(client, admin, db, fuzzing.known)
        fuzzing.known.update(detection)
        fuzzing.pairs.update(incident_links)
        client.cookies.clear()
        yield fuzzing


def seed_indicators(db: Any) -> tuple[str, dict[str, str]]:
    """A few stored indicators (ids and values) and their source, for the routes that link
    or look them up. They share a malware family, so that discovery correlates them."""
    values = ["198.51.100.7", "fuzz.example.com", "http://fuzz.example.com/a"]
    with db.transaction() as session:
        source = ensure_source(session, actor=Actor.system(), name="fuzz")
    rows = [
        ParsedRow(line=n, value=v, malware_family="fuzzbot", tags=("fuzz-campaign",))
        for n, v in enumerate(values, 1)
    ]
    ingest(db, rows=rows, source=source)
    with db.transaction(readonly=True) as session:
        rows = session.execute(select(ThreatIndicator.id, ThreatIndicator.indicator_value))
        return str(source.id), {str(row_id): value for row_id, value in rows}


def _made(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


Pairs = dict[tuple[str, str], list[tuple[str, str]]]


def seed_links(client: httpx.Client, admin: dict[str, str], known: dict[str, list[str]]) -> Pairs:
    """All but one seeded indicator linked to the seeded actor, campaign, technique and
    collection: the link routes find a link to change or remove, and one to make."""
    linked = known["indicator_id"][:-1]
    pairs: Pairs = {}
    for owner, path in [
        ("actor_id", "/api/v1/threat-actors"),
        ("campaign_id", "/api/v1/threat-campaigns"),
        ("technique_id", "/api/v1/mitre-techniques"),
    ]:
        (parent,) = known[owner]
        for indicator in linked:
            link = {"indicator": indicator}
            _made(client.post(f"{path}/{parent}/indicators", json=link, headers=admin))
        pairs[(owner, "indicator_id")] = [(parent, indicator) for indicator in linked]
    (collection,) = known["collection_id"]
    members = {"indicators": linked}
    url = f"/api/v1/ioc-collections/{collection}/indicators"
    _made(client.post(url, json=members, headers=admin), 200)
    pairs[("collection_id", "indicator_id")] = [(collection, i) for i in linked]
    return pairs


def seed_detection(
    client: httpx.Client, admin: dict[str, str], db: Any, known: dict[str, list[str]]
) -> tuple[dict[str, list[str]], Pairs]:
    """Detection objects made as the admin through the API, by the path parameter naming
    them: items on the seeded watchlist, alerts raised by sightings of the seeded
    indicators (and by the seeded rule), an incident holding some of them, correlations,
    and the notifications the seeded channel queued, failed so that they may be retried."""

    def ids(path: str) -> list[str]:
        items = _made(client.get(path, params={"limit": 100}), 200)["items"]
        assert items, f"{path} is empty"
        return [item["id"] for item in items]

    post = client.post
    (watchlist,) = known["watchlist_id"]
    (channel,) = known["channel_id"]
    items = ["fuzz.example.com", "watch.fuzz.example.com", "other.fuzz.example.com"]
    url = f"/api/v1/watchlists/{watchlist}/items"
    _made(post(url, json={"items": items}, headers=admin), 200)
    seen = [*known["key"][1:], "watch.fuzz.example.com"]
    report = _made(post("/api/v1/sightings", json=seen, headers=admin), 200)
    assert report["alerts_created"] >= len(seen), report
    alerts = ids("/api/v1/alerts")
    incident = _made(post("/api/v1/incidents", json={"title": "Fuzz incident"}, headers=admin))
    # Half the alerts and one indicator linked: unlinking may succeed, and so may linking
    # or promoting one of the others.
    linked_alerts, linked_indicators = alerts[: len(alerts) // 2], known["indicator_id"][:1]
    for alert in linked_alerts:
        link = {"alert_id": alert}
        _made(post(f"/api/v1/incidents/{incident['id']}/alerts", json=link, headers=admin))
    for indicator in linked_indicators:
        link = {"indicator_id": indicator}
        _made(post(f"/api/v1/incidents/{incident['id']}/indicators", json=link, headers=admin))
    _made(post("/api/v1/correlations/discover", json={}, headers=admin), 200)
    notifications = ids("/api/v1/notifications")
    # Only a failed notification may be retried: with the channel off, one delivery pass
    # (the dispatcher's work, which the test server does not run) fails them all.
    off = {"is_active": False}
    _made(client.patch(f"/api/v1/notifications/channels/{channel}", json=off, headers=admin), 200)
    assert deliver_due(db, Settings()).failed == len(notifications)
    watchlist_items = ids(url)
    detection = {
        "item_id": watchlist_items,
        "alert_id": alerts,
        "incident": [incident["id"], incident["incident_number"]],
        "correlation_id": ids("/api/v1/correlations"),
        "notification_id": notifications,
    }
    pairs: Pairs = {
        ("watchlist_id", "item_id"): [(watchlist, item) for item in watchlist_items],
        ("incident", "alert_id"): [(incident["id"], alert) for alert in linked_alerts],
        ("incident", "indicator_id"): [(incident["id"], i) for i in linked_indicators],
    }
    return detection, pairs


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
    assert len(succeeded) >= len(answered) * 2 // 3, (
        f"only {len(succeeded)} of {len(answered)} operations ever succeeded; never:\n"
        + "\n".join(f"{op}: {codes}" for op, codes in sorted(never.items()))
    )


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
