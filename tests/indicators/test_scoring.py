"""The documented scoring model: confidence, threat score, severity and ageing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from krsn.indicators.models import Severity
from krsn.indicators.normalise import Kind
from krsn.indicators.scoring import (
    LIFETIME,
    combined_confidence,
    decayed_score,
    explain,
    severity,
    source_confidence,
    threat_score,
)

percent = st.floats(min_value=0, max_value=100, allow_nan=False)


def test_two_independent_sixty_percent_sources_make_eighty_four():
    assert combined_confidence([60, 60]) == 84.0


@given(st.lists(percent, max_size=20), percent)
def test_another_source_never_lowers_confidence_and_nothing_passes_100(values, extra):
    before = combined_confidence(values)
    after = combined_confidence([*values, extra])
    assert before <= after + 1e-9 <= 100.0 + 1e-9


def test_source_confidence_uses_defaults_when_unknown():
    assert source_confidence(None, None) == 25.0
    assert source_confidence(90, 80) == 72.0


def test_hashes_outscore_ranges_and_a_family_adds_ten():
    assert threat_score(Kind.SHA256, 80, has_malware_family=False) == 80.0
    assert threat_score(Kind.CIDR, 80, has_malware_family=False) == 48.0
    assert threat_score(Kind.CIDR, 80, has_malware_family=True) == 58.0
    assert threat_score(Kind.SHA256, 100, has_malware_family=True) == 100.0


def test_severity_bands():
    assert [severity(s) for s in (90, 70, 45, 10)] == [
        Severity.CRITICAL,
        Severity.HIGH,
        Severity.MEDIUM,
        Severity.LOW,
    ]


def test_scores_decay_after_the_grace_period_and_reach_zero_at_the_lifetime():
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    life = LIFETIME[Kind.IPV4]
    assert decayed_score(Kind.IPV4, 80, last_seen=seen, now=seen + life / 20) == 80
    middle = decayed_score(Kind.IPV4, 80, last_seen=seen, now=seen + life * 0.55)
    assert 0 < middle < 80
    assert decayed_score(Kind.IPV4, 80, last_seen=seen, now=seen + life + timedelta(1)) == 0


def test_the_explanation_holds_every_factor():
    explained = explain(Kind.URL, {"a": 30.0, "b": 35.0}, malware_families=["Qakbot"])
    assert explained["model"] == "krsn-1"
    assert explained["factors"] == {  # type: ignore[comparison-overlap]
        "source_confidences": {"a": 30.0, "b": 35.0},
        "type_weight": 0.95,
        "malware_family_bonus": 10.0,
    }
