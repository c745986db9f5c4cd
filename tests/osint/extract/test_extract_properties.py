"""Properties of extraction over any text: offsets, canonical forms, no crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krsn.indicators.normalise import Indicator, normalise
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType as T

PIECES = st.sampled_from(
    [
        "evil.com", "hxxp://bad[.]example[.]org/a?b=1", "198.51.100.7", "10.0.0.0/8", "[.]", "(.)",
        "[at]", "@", "admin", "2001:db8::1", "44d88612fea8a8f36de82e1278abb02f", "CVE-2021-44228",
        "+44 20 7946 0958", "1FeexV6bAHb8ybZjqQMjJrcCrHGW9sb6uF", "John Smith", "Acme Ltd",
        "Germany", " ", "\n", ".", ",", ":", "/", "`", "+", "|", "(", ")", "[", "]", "x.py",
    ]
)  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=30).map("".join),
)
NETWORK = {T.IP_ADDRESS, T.DOMAIN, T.URL, T.EMAIL, T.HASH}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(TEXTS)
def test_offsets_always_slice_to_the_value(text):
    findings = extract_text(text)
    for finding in findings:
        assert text[finding.start : finding.end] == finding.value
        assert 0 < finding.confidence <= 1
    assert [f.start for f in findings] == sorted(f.start for f in findings)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(TEXTS)
def test_canonical_values_are_idempotent(text):
    for finding in extract_text(text, ner=False):
        if finding.entity_type in NETWORK:
            again = normalise(finding.canonical)
            assert isinstance(again, Indicator) and again.value == finding.canonical
        # Extracting from a canonical value finds that value again, as itself; except a URL
        # ending in punctuation, which running text reads as the end of a sentence.
        refound = extract_text(finding.canonical, types=[finding.entity_type], ner=False)
        if finding.entity_type is not T.USERNAME and finding.canonical[-1] not in ".,;:!?'\"*+_)]}":
            assert finding.canonical in {f.canonical for f in refound}, finding
