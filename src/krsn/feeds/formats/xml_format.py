"""XML documents: an XPath to the records and a relative XPath to each field.

Rules (defaults in brackets):

- ``item_xpath`` (required): the records, as in ``//item`` or ``/rss/channel/item``.
- ``fields`` [``{"value": "."}``]: each field's XPath relative to a record (``link``,
  ``@href``, ``string(ioc)``); an element gives its text. Fields: ``value`` (required),
  ``kind``, ``first_seen``, ``last_seen``, ``tags``, ``malware_family``, ``confidence``,
  ``description``. A ``value`` XPath that finds several nodes gives one row per node.
- ``namespaces`` [``{}``]: prefixes used in the XPaths, mapped to namespace URIs.
- ``kind``, ``kind_map``, ``tags``, ``malware_family``, ``date_format``, ``tag_separator``
  [``","``]: see ``reading.FieldRules``.
- ``max_bytes`` [256 MiB], ``max_records`` [5,000,000].

Safety: lxml gives us XPath, so it parses, hardened rather than wrapped by defusedxml (whose
lxml support is deprecated): no entity substitution, no DTD loading, no network, libxml2's
default depth and text-size caps (``huge_tree`` off) and its entity-amplification check.
On top of that, as defusedxml does, a document that declares any entity is refused before a
record is read: feeds have no use for them, and this closes both the billion-laughs bomb and
external entities (``SYSTEM "file:///etc/passwd"``), which are never opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from lxml import etree
from pydantic import Field, field_validator, model_validator

from krsn.feeds.formats.base import FormatError, ParsedRow, ParseError
from krsn.feeds.formats.reading import (
    FIELDS,
    FieldRules,
    Limits,
    RecordCounter,
    RuledFormat,
    build_row,
    read_document,
    validate,
)


def safe_parser() -> etree.XMLParser:
    """An lxml parser that expands no entity and fetches nothing."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
    )


def parse_document(data: bytes) -> Any:
    """The root element of a safe XML document; ``FormatError`` for a bad or unsafe one."""
    if not data.strip():
        raise FormatError("the document is empty")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        reason = str(exc)
        if "amplification" in reason or "entit" in reason.lower():
            raise FormatError(f"refused: the XML document abuses entities ({reason})") from None
        raise FormatError(f"this is not well-formed XML: {reason}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None:
        entities = list(dtd.iterentities())
        if entities:
            raise FormatError(
                f"refused: the XML document declares entities ({entities[0].name!r}"
                f"{' from ' + repr(entities[0].system_url) if entities[0].system_url else ''}"
                "); feeds must not use entity declarations"
            )
    return root


def _compile(expression: str, namespaces: dict[str, str]) -> etree.XPath:
    try:
        return etree.XPath(expression, namespaces=namespaces or None)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"not a valid XPath {expression!r}: {exc}") from None


class XmlRules(Limits, FieldRules):
    """Rules of the ``xml`` format."""

    item_xpath: str = Field(min_length=1)
    fields: dict[str, str] = Field(default_factory=lambda: {"value": "."})
    namespaces: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - FIELDS
        if unknown:
            raise ValueError(
                f"unknown field {sorted(unknown)[0]!r}; fields: {', '.join(sorted(FIELDS))}"
            )
        if "value" not in value:
            raise ValueError("say where the value is, as in {'value': 'link'}")
        return value

    @model_validator(mode="after")
    def _xpaths_compile(self) -> XmlRules:
        _compile(self.item_xpath, self.namespaces)
        for expression in self.fields.values():
            _compile(expression, self.namespaces)
        return self


def _texts(result: Any) -> list[str]:
    """The strings an XPath result stands for: element text, attribute or string values."""
    if isinstance(result, bool):
        return []
    if isinstance(result, str | int | float):
        text = str(result).strip()
        return [text] if text else []
    texts: list[str] = []
    for node in result:
        if isinstance(node, etree._Element):
            text = "".join(node.itertext()).strip()
        else:
            text = str(node).strip()
        if text:
            texts.append(text)
    return texts


class XmlFormat(RuledFormat):
    """Records selected by XPath in an XML document."""

    name = "xml"
    rules_model = XmlRules

    def parse(self, stream: BinaryIO, rules: Mapping[str, Any]) -> Iterator[ParsedRow | ParseError]:
        """Yield a row per value found and an error per record without a usable one."""
        checked = validate(XmlRules, rules)
        items_xpath = _compile(checked.item_xpath, checked.namespaces)
        fields = {
            name: _compile(expression, checked.namespaces)
            for name, expression in checked.fields.items()
        }
        root = parse_document(read_document(stream, checked.max_bytes))
        try:
            items = items_xpath(root)
        except etree.XPathError as exc:
            raise FormatError(f"item_xpath failed on this document: {exc}") from None
        if not isinstance(items, list) or not all(
            isinstance(item, etree._Element) for item in items
        ):
            raise FormatError("item_xpath must select elements, as in //item")
        if not items:
            raise FormatError(f"item_xpath {checked.item_xpath!r} selects nothing here")
        count = RecordCounter(checked.max_records)
        for number, item in enumerate(items, start=1):
            count()
            try:
                found = {name: _texts(xpath(item)) for name, xpath in fields.items()}
            except etree.XPathError as exc:
                yield ParseError(number, f"an XPath failed on this record: {exc}")
                continue
            values = found.pop("value")
            if not values:
                yield ParseError(number, "no value in this record")
                continue
            common: dict[str, Any] = {
                name: (texts if name == "tags" else (texts[0] if texts else None))
                for name, texts in found.items()
            }
            raw = {"value": values[0] if len(values) == 1 else values, **common}
            for value in values:
                try:
                    yield build_row(number, {**common, "value": value}, checked, raw=raw)
                except ValueError as exc:
                    yield ParseError(number, str(exc))
