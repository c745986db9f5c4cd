"""Named entities (persons, organisations, locations) through a model that works offline.

Two recognisers behind one small interface (:class:`Recogniser`):

- :class:`SpacyRecogniser` runs an installed spaCy pipeline, named by ``KRSN_NER_MODEL``
  (``en_core_web_sm``, ``en_core_web_trf``...). Installing spaCy and a model is an explicit
  step of the user's (``docs/extraction.md``); nothing is ever downloaded at run time.
- :class:`GazetteerRecogniser` (``ner:krsn-gazetteer``), the default when no spaCy model is
  installed, needs only data shipped in PyPI packages: ``pycountry`` for countries and their
  subdivisions, the US census first-name lists of the ``names`` package for persons, and
  legal-form suffixes and organisation words (``Ltd``, ``GmbH``, ``Ministry of``) for
  organisations. It reads only Capitalised word runs, so it is fast and predictable, and it
  misses what a statistical model finds from context: cities, persons whose first name is not
  in the census lists, organisations without a legal form or keyword (``Lazarus``).

``method`` of a finding is ``ner:<model>``: ``ner:en_core_web_sm`` or ``ner:krsn-gazetteer``.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from importlib import resources
from typing import Any, Final, Protocol

from krsn.config import get_settings
from krsn.errors import Invalid
from krsn.osint.extract.findings import Finding
from krsn.osint.models import EntityType

__all__ = [
    "GAZETTEER",
    "GazetteerRecogniser",
    "Recogniser",
    "SpacyRecogniser",
    "recogniser",
]

log = logging.getLogger(__name__)

GAZETTEER: Final = "krsn-gazetteer"
"""The model name of the built-in recogniser (``KRSN_NER_MODEL=krsn-gazetteer`` forces it)."""

# Tried in order when KRSN_NER_MODEL is not set: the official spaCy model if the user has it.
_DEFAULT_SPACY_MODELS: Final = ("en_core_web_sm",)


class Recogniser(Protocol):
    """Finds persons, organisations and locations in a text."""

    name: str

    def find(self, text: str) -> list[Finding]:
        """Every named entity of ``text``, with offsets into it."""
        ...


def _tidy(text: str) -> str:
    return " ".join(text.split())


# --- spaCy ----------------------------------------------------------------------------------

_SPACY_LABELS: Final = {
    "PERSON": EntityType.PERSON,
    "PER": EntityType.PERSON,
    "ORG": EntityType.ORGANIZATION,
    "GPE": EntityType.LOCATION,
    "LOC": EntityType.LOCATION,
    "FAC": EntityType.LOCATION,
}


class SpacyRecogniser:
    """A spaCy pipeline's ``ner`` component; its labels map to our entity types."""

    # spaCy's default limit; longer texts go through in slices so memory stays bounded.
    _SLICE = 100_000

    def __init__(self, nlp: Any, name: str) -> None:
        self.nlp = nlp
        self.name = name
        self.method = f"ner:{name}"
        # spaCy's greedy NER gives no per-entity score: each entity gets the F-score the model
        # was published with (0.84 for en_core_web_sm 3.8), or 0.8 when it states none.
        performance = (getattr(nlp, "meta", None) or {}).get("performance") or {}
        score = performance.get("ents_f")
        self.confidence = (
            round(float(score), 2) if isinstance(score, int | float) and score else 0.8
        )

    @classmethod
    def load(cls, model: str) -> SpacyRecogniser:
        """Load an installed pipeline by package name; ``Invalid`` when it is not installed."""
        try:
            import spacy
        except ImportError:
            raise Invalid(
                "KRSN_NER_MODEL", f"{model} needs spaCy: pip install spacy, then the model"
            ) from None
        try:
            nlp = spacy.load(model, exclude=["parser", "lemmatizer", "senter"])
        except OSError as exc:
            raise Invalid(
                "KRSN_NER_MODEL", f"spaCy model {model} is not installed: {exc}"
            ) from None
        if "ner" not in nlp.pipe_names:
            raise Invalid("KRSN_NER_MODEL", f"spaCy model {model} has no ner component")
        return cls(nlp, model)

    def find(self, text: str) -> list[Finding]:
        """Every entity the pipeline labels as a person, organisation or place."""
        out: list[Finding] = []
        for offset, chunk in _slices(text, self._SLICE):
            doc = self.nlp(chunk)
            for ent in doc.ents:
                entity_type = _SPACY_LABELS.get(ent.label_)
                if entity_type is None or not ent.text.strip():
                    continue
                out.append(
                    Finding(
                        entity_type=entity_type,
                        value=ent.text,
                        canonical=_tidy(ent.text),
                        start=offset + ent.start_char,
                        end=offset + ent.end_char,
                        confidence=self.confidence,
                        method=self.method,
                        subtype=ent.label_.lower(),
                    )
                )
        return out


def _slices(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` cut into pieces of about ``size`` characters, at line ends where possible."""
    if len(text) <= size:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            newline = text.rfind("\n", start + size // 2, end)
            end = newline + 1 if newline != -1 else end
        pieces.append((start, text[start:end]))
        start = end
    return pieces


# --- gazetteer ------------------------------------------------------------------------------

# A run of Capitalised words, allowing the small words names contain ("Bank of America",
# "Ministry of Foreign Affairs", "Procter & Gamble"); each word is matched separately below.
# A word keeps a full stop only when short (Inc. Ltd. Dr. J.): a longer one ends a sentence.
_WORD = r"(?:[A-Z][\w'’-]{0,3}\.(?![\w.])|[A-Z][\w'’-]*)"
_JOINER = r"(?:of|the|for|de|du|des|la|le|von|van|der|den|al|bin|&)"
# A comma joins a name only to its legal form: "Acme, Inc.", "DigitalOcean, LLC".
_COMMA_FORM = r"(?:,(?=[ \t]+(?:Inc|Ltd|LLC|LLP|PLC|Corp|Co|GmbH|AG|S\.?A|SRL|B\.?V|N\.?V)\b))?"
_RUN = re.compile(rf"(?<![\w@./-]){_WORD}(?:{_COMMA_FORM}[ \t]+(?:{_JOINER}[ \t]+)*{_WORD})*")
_INITIAL = re.compile(r"[A-Z]\.")
_TOKEN = re.compile(r"[\w'’&-]+\.?|[A-Z]\.")

_LEGAL_FORMS: Final = frozenset(
    {
        "inc", "inc.", "incorporated", "ltd", "ltd.", "limited", "llc", "llp", "plc", "corp",
        "corp.", "corporation", "co.", "gmbh", "ag", "kg", "sa", "s.a.", "sas", "sarl", "srl",
        "s.r.l", "spa", "s.p.a", "bv", "b.v", "nv", "n.v", "oy", "ab", "pty", "pte", "kk", "s.a",
        "ooo", "oao", "zao", "pjsc", "jsc", "ojsc", "cjsc", "lp",
    }
)  # fmt: skip
_ORG_WORDS_AFTER: Final = frozenset(
    {
        "bank", "university", "group", "agency", "ministry", "institute", "foundation",
        "association", "company", "holdings", "technologies", "systems", "security", "labs",
        "laboratories", "services", "solutions", "software", "networks", "telecom", "airlines",
        "police", "army", "navy", "command", "council", "committee", "bureau", "office",
        "department", "commission", "party", "federation", "union", "organization", "lab",
        "organisation", "college", "hospital", "times", "post", "news", "research",
    }
)  # fmt: skip
_ORG_WORDS_BEFORE: Final = frozenset(
    {"bank", "university", "ministry", "department", "bureau", "office", "council", "institute"}
)
_TITLES: Final = frozenset(
    {
        "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "dr", "dr.", "prof", "prof.", "sir", "dame",
        "president", "minister", "senator", "governor", "general", "colonel", "judge", "ceo",
        "director", "chancellor", "king", "queen", "prince", "princess", "pope", "mayor",
    }
)  # fmt: skip
# Capitalised words that begin sentences and headings far more often than they name anything.
_NOT_NAMES: Final = frozenset(
    {
        "the", "a", "an", "this", "that", "these", "those", "it", "its", "in", "on", "at", "by",
        "for", "from", "with", "and", "or", "but", "if", "when", "while", "after", "before",
        "we", "our", "they", "their", "he", "she", "his", "her", "you", "your", "i", "as", "of",
        "to", "all", "some", "no", "not", "also", "more", "most", "other", "new", "first",
        "last", "next", "see", "note", "figure", "table", "section", "samples", "sample",
        "files", "file", "name", "names", "network", "indicators", "details", "description",
        "detection", "domain", "url", "ip", "hash", "sha", "md5", "c&c", "server", "servers",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "windows", "linux", "android", "trojan", "backdoor",
        "ransomware", "malware", "loader", "dropper", "stealer", "wiper", "downloader",
    }
)  # fmt: skip
_AMBIGUOUS_PLACES: Final = frozenset(
    {
        "central", "north", "south", "east", "west", "northern", "southern", "eastern",
        "western", "capital", "centre", "center", "delta", "coast", "lakes", "islands", "upper",
        "lower", "mountain", "river", "valley", "city", "district", "region", "national",
        "federal", "republic", "of", "union", "independent", "free", "new", "great", "grand",
        "saint", "st.", "san", "santa", "sud", "nord", "est", "ouest", "centro", "sur", "norte",
        "lima", "mi", "al", "ca", "ma", "me", "or", "pa", "in", "la", "de", "do", "to", "so",
        "ga", "id", "il", "ok", "oh", "hi", "co", "ct", "md", "mo", "mt", "nc", "nd", "ne", "nh",
        "nj", "nm", "nv", "ny", "ri", "sc", "sd", "tn", "tx", "ut", "va", "vt", "wa", "wi", "wv",
        "wy", "ak", "ar", "az", "fl", "ia", "ks", "ky", "mn", "ms", "page", "media", "bar",
        "tea", "orange", "split", "mobile", "reading", "bath", "nice", "male", "police", "cork",
        "aurora", "victoria", "alexandria", "mercury", "jupiter", "phoenix", "trinity", "hope",
        "liberty", "marathon", "unity", "eagle", "wake", "ocean", "sand", "gold", "silver",
        "green", "white", "black", "red", "blue", "brown", "nova", "alpha", "sigma", "apex",
        "cloud", "sky", "star", "sun", "moon", "summit", "harbour", "port", "bay", "park",
    }
)  # fmt: skip


_ABBREVIATIONS: Final = _LEGAL_FORMS | _TITLES | {"u.s.", "u.k.", "st."}


@cache
def _first_names() -> frozenset[str]:
    names: set[str] = set()
    for resource in ("dist.male.first", "dist.female.first"):
        with resources.files("names").joinpath(resource).open("r", encoding="ascii") as lines:
            for line in lines:
                word = line.split(" ", 1)[0].strip()
                if len(word) > 2:
                    names.add(word.lower())
    return frozenset(names - _NOT_NAMES - {"will", "mark", "bill", "grant", "rose", "art"})


@cache
def _places() -> dict[str, tuple[str, float]]:
    """Place names (folded to lower case) to their canonical name and a confidence."""
    import pycountry

    places: dict[str, tuple[str, float]] = {}
    for subdivision in pycountry.subdivisions:
        name = subdivision.name
        key = name.lower()
        if len(name) >= 4 and key not in _AMBIGUOUS_PLACES and name[0].isupper():
            places.setdefault(key, (name, 0.6))
    for country in pycountry.countries:
        canonical = getattr(country, "common_name", None) or country.name
        for name in {country.name, canonical, getattr(country, "official_name", country.name)}:
            places[name.lower()] = (canonical, 0.8)
    # Short forms reports use that the ISO names do not.
    for short, full in (
        ("Russia", "Russian Federation"),
        ("Iran", "Iran, Islamic Republic of"),
        ("Syria", "Syrian Arab Republic"),
        ("North Korea", "Korea, Democratic People's Republic of"),
        ("South Korea", "Korea, Republic of"),
        ("Vietnam", "Viet Nam"),
        ("UK", "United Kingdom"),
        ("USA", "United States"),
        ("U.S.", "United States"),
        ("US", "United States"),
        ("America", "United States"),
        ("Czech Republic", "Czechia"),
        ("Turkey", "Türkiye"),
        ("Taiwan", "Taiwan"),
    ):
        places[short.lower()] = places.get(full.lower(), (full, 0.8))
    return places


class GazetteerRecogniser:
    """Rules and word lists: countries and subdivisions, first names, legal forms."""

    name = GAZETTEER
    method = f"ner:{GAZETTEER}"
    _MAX_NGRAM = 6

    def find(self, text: str) -> list[Finding]:
        """Persons, organisations and locations among the Capitalised word runs of ``text``."""
        out: list[Finding] = []
        first_names = _first_names()
        places = _places()
        for run in _RUN.finditer(text):
            tokens = [
                (m.start() + run.start(), m.end() + run.start())
                for m in _TOKEN.finditer(run.group())
            ]
            words = [text[s:e] for s, e in tokens]
            lowered = [w.lower().rstrip(",.") for w in words]
            self._run(text, tokens, words, lowered, first_names, places, out)
        return out

    def _run(
        self,
        text: str,
        tokens: list[tuple[int, int]],
        words: list[str],
        lowered: list[str],
        first_names: frozenset[str],
        places: dict[str, tuple[str, float]],
        out: list[Finding],
    ) -> None:
        count = len(tokens)
        used = [False] * count
        # Organisations first: a name up to a legal form or an organisation word, or an
        # organisation word followed by "of" and the rest of the run.
        for k, word in enumerate(lowered):
            if used[k]:
                continue
            begin = self._org_start(lowered, used, k)
            if k > 0 and begin < k and (word in _LEGAL_FORMS or word in _ORG_WORDS_AFTER):
                confidence = 0.8 if word in _LEGAL_FORMS else 0.6
                self._add(
                    out,
                    text,
                    EntityType.ORGANIZATION,
                    tokens[begin][0],
                    tokens[k][1],
                    confidence,
                    "org",
                )
                used[begin : k + 1] = [True] * (k + 1 - begin)
            elif word in _ORG_WORDS_BEFORE and k + 2 < count and lowered[k + 1] == "of":
                self._add(
                    out, text, EntityType.ORGANIZATION, tokens[k][0], tokens[-1][1], 0.6, "org"
                )
                used[k:] = [True] * (count - k)
        i = 0
        while i < count:
            if used[i]:
                i += 1
                continue
            word = lowered[i]
            # A person: a title or a known first name, then up to three more name words.
            if word in _TITLES or word in first_names:
                j = i + 1
                while (
                    j < count
                    and j - i <= 3
                    and not used[j]
                    and self._surname(words[j], lowered[j], places)
                ):
                    j += 1
                begin = i + 1 if word in _TITLES else i
                if j - begin >= (1 if word in _TITLES else 2):
                    confidence = 0.7 if word in _TITLES else 0.6
                    self._add(
                        out,
                        text,
                        EntityType.PERSON,
                        tokens[begin][0],
                        tokens[j - 1][1],
                        confidence,
                        "person",
                    )
                    i = j
                    continue
            # A place: the longest run of words that names one.
            for n in range(min(self._MAX_NGRAM, count - i), 0, -1):
                if any(used[i : i + n]):
                    continue
                start, end = tokens[i][0], tokens[i + n - 1][1]
                place = places.get(_tidy(text[start:end]).lower().rstrip("."))
                if place is not None and words[i][0].isupper():
                    canonical, confidence = place
                    self._add(
                        out, text, EntityType.LOCATION, start, end, confidence, "place", canonical
                    )
                    i += n - 1
                    break
            i += 1

    @staticmethod
    def _org_start(lowered: list[str], used: list[bool], end: int) -> int:
        """The first word of the organisation name that ends at ``end``."""
        begin = end
        while begin > 0 and not used[begin - 1] and lowered[begin - 1] not in _NOT_NAMES:
            begin -= 1
        return begin

    @staticmethod
    def _surname(word: str, lowered: str, places: dict[str, tuple[str, float]]) -> bool:
        if _INITIAL.fullmatch(word):
            return True
        return (
            word[:1].isupper()
            and len(word) > 1
            and lowered not in _NOT_NAMES
            and lowered not in _LEGAL_FORMS
            and lowered not in _ORG_WORDS_AFTER
            and lowered not in places
            and not word.isupper()
        )

    def _add(
        self,
        out: list[Finding],
        text: str,
        entity_type: EntityType,
        start: int,
        end: int,
        confidence: float,
        subtype: str,
        canonical: str | None = None,
    ) -> None:
        value = text[start:end].rstrip(",")
        if value.endswith(".") and value.rsplit(None, 1)[-1].lower() not in _ABBREVIATIONS:
            value = value[:-1]  # a sentence's full stop, not an abbreviation's
        out.append(
            Finding(
                entity_type=entity_type,
                value=value,
                canonical=canonical or _tidy(value),
                start=start,
                end=start + len(value),
                confidence=confidence,
                method=self.method,
                subtype=subtype,
            )
        )


@cache
def recogniser(model: str | None = None) -> Recogniser:
    """The recogniser to use: ``model``, else ``KRSN_NER_MODEL``, else the official spaCy
    English model when installed, else the gazetteer."""
    wanted = model or get_settings().ner_model or None
    if wanted == GAZETTEER:
        return GazetteerRecogniser()
    if wanted is not None:
        return SpacyRecogniser.load(wanted)
    for candidate in _DEFAULT_SPACY_MODELS:
        try:
            return SpacyRecogniser.load(candidate)
        except Invalid:
            continue
    log.debug("no spaCy model installed; named entities come from the gazetteer")
    return GazetteerRecogniser()
