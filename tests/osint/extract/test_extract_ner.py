"""Persons, organisations and places: the gazetteer recogniser, and spaCy when installed."""

from __future__ import annotations

import pytest

from krsn.config import get_settings
from krsn.errors import Invalid
from krsn.osint.extract.ner import GazetteerRecogniser, SpacyRecogniser, recogniser
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType as T

TEXT = (
    "John Smith, CEO of Acme Ltd, met President Vladimir Putin in Moscow, Russia. "
    "The Ministry of Foreign Affairs of Ukraine said Kaspersky Lab and DigitalOcean, LLC "
    "hosted servers in Germany and Texas. Samples came from Mary J. Watson."
)


def entities(findings) -> set[tuple[T, str]]:
    return {(f.entity_type, f.canonical) for f in findings}


def test_gazetteer_finds_people_organisations_and_places():
    found = entities(GazetteerRecogniser().find(TEXT))
    assert {
        (T.PERSON, "John Smith"),
        (T.PERSON, "Vladimir Putin"),
        (T.PERSON, "Mary J. Watson"),
        (T.ORGANIZATION, "Acme Ltd"),
        (T.ORGANIZATION, "Kaspersky Lab"),
        (T.ORGANIZATION, "DigitalOcean, LLC"),
        (T.ORGANIZATION, "Ministry of Foreign Affairs of Ukraine"),
        (T.LOCATION, "Russian Federation"),
        (T.LOCATION, "Germany"),
        (T.LOCATION, "Texas"),
    } <= found


def test_gazetteer_findings_slice_to_their_value_and_name_the_model():
    for finding in GazetteerRecogniser().find(TEXT):
        assert TEXT[finding.start : finding.end] == finding.value
        assert finding.method == "ner:krsn-gazetteer"
        assert not finding.value.endswith((".", ","))


def test_sentence_starts_and_headings_are_not_people():
    text = "Network indicators\nThe Samples were found. Windows Defender flagged it."
    assert [f for f in GazetteerRecogniser().find(text) if f.entity_type is T.PERSON] == []


def test_extract_text_adds_named_entities_unless_told_not_to(monkeypatch):
    monkeypatch.setenv("KRSN_NER_MODEL", "krsn-gazetteer")
    get_settings.cache_clear()
    recogniser.cache_clear()
    try:
        text = "John Smith of Acme Ltd wrote to ops@evil.com from Germany."
        with_ner = entities(extract_text(text))
        assert (T.PERSON, "John Smith") in with_ner
        assert (T.EMAIL, "ops@evil.com") in with_ner
        assert {t for t, _ in entities(extract_text(text, ner=False))} == {T.EMAIL}
        only_places = extract_text(text, types=[T.LOCATION])
        assert entities(only_places) == {(T.LOCATION, "Germany")}
    finally:
        get_settings.cache_clear()
        recogniser.cache_clear()


def test_a_model_that_is_not_installed_is_a_clear_error():
    with pytest.raises(Invalid) as refused:
        SpacyRecogniser.load("no_such_model_xyz")
    assert "KRSN_NER_MODEL" in str(refused.value)


def test_a_spacy_pipeline_maps_its_labels_to_entity_types():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "ORG", "pattern": "Lazarus Group"},
            {"label": "GPE", "pattern": "Pyongyang"},
            {"label": "PERSON", "pattern": [{"LOWER": "kim"}, {"LOWER": "jong"}]},
            {"label": "DATE", "pattern": "2023"},
        ]
    )
    text = "In 2023 the Lazarus Group, run from Pyongyang by Kim Jong, struck."
    findings = SpacyRecogniser(nlp, "test_model").find(text)
    assert [(f.entity_type, f.value, f.method) for f in findings] == [
        (T.ORGANIZATION, "Lazarus Group", "ner:test_model"),
        (T.LOCATION, "Pyongyang", "ner:test_model"),
        (T.PERSON, "Kim Jong", "ner:test_model"),
    ]
    for finding in findings:
        assert text[finding.start : finding.end] == finding.value
