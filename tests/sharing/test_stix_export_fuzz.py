"""No selection a client sends makes the STIX export answer 5xx; every refusal is a problem."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_selection import seed

URL = "/api/v1/stix/export"
NAMES = st.sampled_from(["Emotet C2", "private hunt", "MUMMY SPIDER", "Emotet returns", ""])
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
KEYS = st.sampled_from(["type", "severity", "active", "tag", "q", "first_seen_after", "x", ""])
QUERY = st.lists(st.tuples(KEYS, TEXT), max_size=4).map(
    lambda pairs: ",".join(f"{key}={value}" for key, value in pairs)
)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "collection": NAMES | TEXT,
        "actor": NAMES | TEXT,
        "campaign": NAMES | TEXT,
        "report": NAMES | TEXT,
        "query": QUERY | TEXT,
        "limit": st.integers(-5, 200_000).map(str) | TEXT,
        "observables": st.sampled_from(["true", "false", "maybe"]),
    },
)


def test_no_selection_makes_the_export_answer_5xx(api: Any):
    api.login_as("reader", "viewer")
    seed(api.database)

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(params=PARAMS)
    def acceptable(params: dict[str, str]) -> None:
        response = api.get(URL, params=params)
        assert response.status_code < 500, (params, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"].strip()

    acceptable()
