"""The user's query language, its IOC-aware tokens, and highlighting.

A query is words (all must match), ``"phrases"``, ``prefix*`` and ``-excluded`` terms.
Text is cut into tokens at every character that is not a letter or a digit, the way both
engines index it (FTS5's ``unicode61`` tokenizer; PostgreSQL's parser after ASCII
punctuation is blanked), so ``evil.example.com`` is the tokens ``evil example com``: any
label finds the domain, and the whole name is the phrase of its labels. An e-mail is found
by its local part or domain, an IP address by its dotted form (a phrase of its octets), a
URL by its host.

The parsed query is rendered into each engine's syntax from tokens alone (letters and
digits), each one quoted, so no user text reaches ``MATCH`` or ``to_tsquery`` as syntax.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# Bounds that keep a hostile query cheap; what is beyond them is ignored, not refused.
MAX_QUERY_CHARS = 1_000
MAX_TERMS = 16
MAX_TOKENS_PER_TERM = 16
# A one-letter prefix would expand to a large part of the vocabulary.
MIN_PREFIX_CHARS = 2

_TOKEN = re.compile(r"[^\W_]+")
# A term: an optional '-', then a quoted phrase (the closing quote may be missing) or a run
# of anything up to the next space or quote.
_TERM = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')


def tokens(text: str) -> list[str]:
    """The lower-cased tokens of ``text`` as the indices cut it."""
    return [token.casefold() for token in _TOKEN.findall(text)]


@dataclass(frozen=True, slots=True)
class Term:
    """Tokens that must appear in this order, adjacent; the last may be a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False
    negated: bool = False

    def fts5(self) -> str:
        """This term in FTS5 syntax: a quoted phrase, ``*`` after it for a prefix."""
        phrase = '"' + " ".join(self.tokens) + '"'
        return f"{phrase} *" if self.prefix else phrase

    def tsquery(self) -> str:
        """This term in ``to_tsquery`` syntax: quoted lexemes joined by ``<->``."""
        parts = [f"'{token}'" for token in self.tokens]
        if self.prefix:
            parts[-1] += ":*"
        joined = " <-> ".join(parts)
        return f"({joined})" if len(parts) > 1 else joined


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: the terms that must match and those that must not."""

    text: str
    required: tuple[Term, ...] = ()
    excluded: tuple[Term, ...] = ()
    truncated: bool = False
    words: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        """Nothing to match: no term left once the query is tokenised."""
        return not self.required

    @property
    def single_word(self) -> str | None:
        """The query's text when it is one plain term (a name typed whole), else None."""
        if len(self.required) == 1 and not self.excluded and not self.required[0].prefix:
            return self.text.strip().strip('"').strip()
        return None

    def fts5(self) -> str:
        """The query as an FTS5 ``MATCH`` expression (empty when :attr:`empty`)."""
        if self.empty:
            return ""
        expression = " AND ".join(term.fts5() for term in self.required)
        for term in self.excluded:
            expression = f"({expression}) NOT {term.fts5()}"
        return expression

    def tsquery(self) -> str:
        """The query as a ``to_tsquery('simple', …)`` argument (empty when :attr:`empty`)."""
        if self.empty:
            return ""
        parts = [term.tsquery() for term in self.required]
        parts += [f"!{term.tsquery()}" for term in self.excluded]
        return " & ".join(parts)

    def matches_token(self, token: str) -> bool:
        """Whether a token of a result is one the query asked for (to highlight it)."""
        if token in self.words:
            return True
        return any(token.startswith(term.tokens[-1]) for term in self.required if term.prefix)


def parse(text: str) -> Query:
    """Parse a user's query; never fails, however hostile the text."""
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    required: list[Term] = []
    excluded: list[Term] = []
    for match in _TERM.finditer(text):
        if len(required) + len(excluded) >= MAX_TERMS:
            truncated = True
            break
        negated, phrase, bare = match.group(1) == "-", match.group(2), match.group(3)
        raw = phrase if phrase is not None else bare
        prefix = phrase is None and raw.endswith("*")
        found = tokens(raw)
        if not found:
            continue
        if len(found) > MAX_TOKENS_PER_TERM:
            found, truncated = found[:MAX_TOKENS_PER_TERM], True
        if phrase is None and len(found) == 1 and raw == "AND":
            # Every word is required already; the keyword says nothing more.
            continue
        if prefix and len(found[-1]) < MIN_PREFIX_CHARS:
            prefix = False
        term = Term(tuple(found), prefix=prefix, negated=negated)
        (excluded if negated else required).append(term)
    words = frozenset(token for term in required for token in term.tokens)
    return Query(
        text=text,
        required=tuple(dict.fromkeys(required)),
        excluded=tuple(dict.fromkeys(excluded)),
        truncated=truncated,
        words=words,
    )


# --- highlighting ---------------------------------------------------------------------------

SNIPPET_CHARS = 240


@dataclass(frozen=True, slots=True)
class Fragment:
    """A run of a result's text, and whether it is what the query matched."""

    text: str
    match: bool


def fragments(
    text: str, query: Query, *, substring: str | None = None, width: int = SNIPPET_CHARS
) -> list[Fragment]:
    """The part of ``text`` around the first match, cut into matched and unmatched runs.

    Tokens the query names are marked; ``substring`` (a partial-name search) is marked
    wherever it occurs, in any case. Text is returned as is: callers escape for their medium.
    """
    spans: list[tuple[int, int]] = []
    if substring:
        lowered, needle = text.casefold(), substring.casefold()
        # casefold can change lengths (ß → ss); mark only where offsets still line up.
        if needle and len(lowered) == len(text):
            start = lowered.find(needle)
            while start >= 0 and len(spans) < 64:
                spans.append((start, start + len(needle)))
                start = lowered.find(needle, start + len(needle))
    for found in _TOKEN.finditer(text):
        if query.matches_token(found.group().casefold()):
            spans.append(found.span())
            if len(spans) >= 256:
                break
    spans.sort()
    begin = 0
    if spans and len(text) > width:
        begin = max(0, spans[0][0] - width // 4)
        # Start at a word boundary so the snippet does not open mid-word.
        space = text.rfind(" ", 0, begin)
        begin = begin if space < 0 or begin - space > 20 else space + 1
    end = min(len(text), begin + width)
    pieces: list[Fragment] = []
    cursor = begin
    for start, stop in spans:
        start, stop = max(start, cursor), min(stop, end)
        if start >= stop:
            continue
        if start > cursor:
            pieces.append(Fragment(text[cursor:start], False))
        pieces.append(Fragment(text[start:stop], True))
        cursor = stop
    if cursor < end:
        pieces.append(Fragment(text[cursor:end], False))
    if begin > 0:
        pieces.insert(0, Fragment("…", False))
    if end < len(text):
        pieces.append(Fragment("…", False))
    return pieces


def snippet_html(pieces: list[Fragment]) -> str:
    """Fragments as HTML: every character of the text escaped, matches in ``<mark>``."""
    return "".join(
        f"<mark>{html.escape(piece.text)}</mark>" if piece.match else html.escape(piece.text)
        for piece in pieces
    )
