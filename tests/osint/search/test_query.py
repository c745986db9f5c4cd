"""The query language: parsing never fails, and renders only quoted tokens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from krsn.osint.search.query import fragments, parse, snippet_html, tokens


def test_iocs_are_cut_into_their_labels() -> None:
    assert tokens("evil.example.com") == ["evil", "example", "com"]
    assert tokens("alice@corp.example") == ["alice", "corp", "example"]
    assert tokens("https://h.example/p_q") == ["https", "h", "example", "p", "q"]


def test_query_syntax_becomes_quoted_engine_syntax() -> None:
    query = parse('evil "bad actor" evi* -benign')
    assert query.fts5() == '("evil" AND "bad actor" AND "evi" *) NOT "benign"'
    assert query.tsquery() == "'evil' & ('bad' <-> 'actor') & 'evi':* & !'benign'"


def test_a_dotted_value_is_a_phrase_of_its_labels() -> None:
    assert parse("198.51.100.7").fts5() == '"198 51 100 7"'


def test_only_negated_terms_match_nothing() -> None:
    assert parse("-evil").empty


@given(st.text(max_size=300))
def test_any_text_parses_into_safe_syntax(text: str) -> None:
    query = parse(text)
    for term in (*query.required, *query.excluded):
        assert all(token.isalnum() for token in term.tokens)


@given(st.text(max_size=200), st.text(max_size=20))
def test_snippets_never_carry_unescaped_markup(body: str, q: str) -> None:
    html = snippet_html(fragments(body, parse(q)))
    assert "<" not in html.replace("<mark>", "").replace("</mark>", "")
