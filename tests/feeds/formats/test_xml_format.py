"""The XML format: XPath records and fields, and refusal of entity tricks."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from krsn.errors import Invalid
from krsn.feeds.formats.base import FormatError
from krsn.feeds.formats.xml_format import XmlFormat

FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:ti="urn:example:ti">
  <channel>
    <title>Example feed</title>
    <item>
      <link>http://evil.example/a.exe</link>
      <pubDate>2024-03-01T10:00:00Z</pubDate>
      <category>malware</category><category>dropper</category>
      <ti:family name="Emotet"/>
    </item>
    <item>
      <link>  http://evil.example/b.exe  </link>
      <pubDate>not a date</pubDate>
    </item>
    <item><title>no link here</title></item>
    <item>
      <link>http://evil.example/c.exe</link>
      <link>http://evil.example/d.exe</link>
    </item>
  </channel>
</rss>
"""

RULES = {
    "item_xpath": "/rss/channel/item",
    "fields": {
        "value": "link",
        "first_seen": "pubDate",
        "tags": "category",
        "malware_family": "ti:family/@name",
    },
    "namespaces": {"ti": "urn:example:ti"},
    "kind": "url",
}


def test_items_fields_and_errors_come_in_document_order(parse):
    rows, errors = parse("xml", FEED, RULES)
    assert [(r.line, r.value) for r in rows] == [
        (1, "http://evil.example/a.exe"),
        (4, "http://evil.example/c.exe"),
        (4, "http://evil.example/d.exe"),
    ]
    first = rows[0]
    assert first.tags == ("malware", "dropper")
    assert first.malware_family == "Emotet"
    assert first.kind == "url"
    assert first.first_seen is not None and first.first_seen.year == 2024
    assert [(e.line, e.reason.split(" ")[0]) for e in errors] == [(2, "bad"), (3, "no")]


def test_default_value_is_the_item_text_and_xpath_functions_work(parse):
    doc = (
        b"<list><ioc type='md5'>d41d8cd98f00b204e9800998ecf8427e</ioc><ioc type='x'>y</ioc></list>"
    )
    rows, _ = parse("xml", doc, {"item_xpath": "//ioc", "fields": {"value": ".", "kind": "@type"}})
    assert [(r.value, r.kind) for r in rows] == [
        ("d41d8cd98f00b204e9800998ecf8427e", "md5"),
        ("y", None),
    ]
    counted, _ = parse("xml", doc, {"item_xpath": "//ioc", "fields": {"value": "string(@type)"}})
    assert [r.value for r in counted] == ["md5", "x"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<items><item>&lol9;</item></items>
"""


def test_billion_laughs_is_refused_fast(parse):
    started = time.monotonic()
    with pytest.raises(FormatError, match="entit"):
        parse("xml", BILLION_LAUGHS, {"item_xpath": "//item"})
    assert time.monotonic() - started < 1


def test_quadratic_blowup_is_refused(parse):
    big = b"x" * 50_000
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "'
        + big
        + b'">]><items><item>'
        + b"&a;" * 10_000
        + b"</item></items>"
    )
    started = time.monotonic()
    with pytest.raises(FormatError, match="entit"):
        parse("xml", doc, {"item_xpath": "//item"})
    assert time.monotonic() - started < 1


def test_external_file_entity_is_refused_and_never_read(parse, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    before = secret.stat().st_atime_ns
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        "<items><item>&x;</item></items>"
    ).encode()
    with pytest.raises(FormatError, match="declares entities") as refused:
        parse("xml", doc, {"item_xpath": "//item"})
    assert "TOP-SECRET" not in str(refused.value)
    assert secret.stat().st_atime_ns == before


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every path asked of it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "fetched">')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_network_entities_and_external_dtds_are_never_fetched(parse, counting_server):
    base, hits = counting_server
    entity = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{base}/entity">]>'
        "<items><item>&x;</item></items>"
    ).encode()
    with pytest.raises(FormatError):
        parse("xml", entity, {"item_xpath": "//item"})
    parameter = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{base}/param"> %p;]>'
        "<items><item>a</item></items>"
    ).encode()
    with pytest.raises(FormatError):
        parse("xml", parameter, {"item_xpath": "//item"})
    external_dtd = (
        f'<?xml version="1.0"?><!DOCTYPE items SYSTEM "{base}/feed.dtd">'
        "<items><item>evil.example</item></items>"
    ).encode()
    rows, _ = parse("xml", external_dtd, {"item_xpath": "//item"})
    assert [r.value for r in rows] == ["evil.example"]
    assert hits == []


def test_unusable_documents_and_rules(parse):
    with pytest.raises(FormatError, match="not well-formed"):
        parse("xml", b'{"type": "bundle"}', {"item_xpath": "//item"})
    with pytest.raises(FormatError, match="selects nothing"):
        parse("xml", FEED, {"item_xpath": "//entry"})
    with pytest.raises(FormatError, match="must select elements"):
        parse("xml", FEED, {"item_xpath": "count(//item)"})
    with pytest.raises(FormatError, match="larger than"):
        parse("xml", FEED, {"item_xpath": "//item", "max_bytes": 100})
    with pytest.raises(Invalid) as required:
        XmlFormat().validate_rules({})
    assert required.value.field == "parsing_rules.item_xpath"
    with pytest.raises(Invalid, match="XPath"):
        XmlFormat().validate_rules({"item_xpath": "//item[", "fields": {"value": "."}})
    with pytest.raises(FormatError, match="item_xpath failed"):
        parse("xml", FEED, {"item_xpath": "//undeclared:item"})
