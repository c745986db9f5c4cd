"""Reading uploaded files: text, HTML (visible text only), PDF and e-mail."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from krsn.errors import Invalid
from krsn.osint.extract.documents import read_document

FIXTURES = Path(__file__).parent / "fixtures"


def make_pdf(lines: list[str], *, title: str | None = None) -> bytes:
    """A real one-page PDF whose page draws ``lines`` in Helvetica."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    if title:
        writer.add_metadata({"/Title": title, "/Author": "Threat Lab"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_plain_text_is_read_as_utf8_or_windows_1252():
    assert read_document("Zoë at evil.com".encode()).text == "Zoë at evil.com"
    assert read_document("Zoë at evil.com".encode("cp1252")).text == "Zoë at evil.com"
    assert read_document("\ufeffwith a BOM".encode()).text == "with a BOM"


def test_html_keeps_visible_text_only():
    document = read_document((FIXTURES / "report.html").read_bytes(), filename="report.html")
    assert document.mime_type == "text/html"
    assert document.title == "Operation Quiet Harbor: technical analysis"
    assert "update-check[.]info" in document.text
    assert "203.0.113.77" in document.text
    for hidden in ("should-not-appear", "hidden.example.org", "noscript.example.org",
                   "template.example.org", "cdn.example.net", "font-family"):  # fmt: skip
        assert hidden not in document.text
    assert document.metadata["links"] == ["https://blog.example.com/quiet-harbor"]


def test_html_is_recognised_by_its_content_without_a_name():
    document = read_document(b"<!doctype html><p>Hello <b>evil.com</b></p>")
    assert (document.mime_type, document.text) == ("text/html", "Hello evil.com")


def test_pdf_text_and_metadata_are_read():
    data = make_pdf(
        ["C2: 198.51.100.23", "Dropper: hxxp://bad[.]example[.]net/a.exe"], title="IOC list"
    )
    document = read_document(data, filename="iocs.pdf")
    assert document.mime_type == "application/pdf"
    assert "198.51.100.23" in document.text
    assert "hxxp://bad[.]example[.]net/a.exe" in document.text
    assert document.title == "IOC list"
    assert document.metadata["pages"] == 1
    assert document.metadata["author"] == "Threat Lab"


def test_pdf_is_recognised_by_its_magic_number():
    assert read_document(make_pdf(["x"])).mime_type == "application/pdf"


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n1 0 obj << /Type /Catalog", b"%PDF-1.4\n" + b"\x00garbage" * 50, b"%PDF-"],
)
def test_a_damaged_pdf_is_refused_with_a_reason(data):
    with pytest.raises(Invalid) as refused:
        read_document(data, mime_type="application/pdf")
    assert "PDF" in refused.value.reason


def test_email_headers_bodies_and_attachment_names_are_read():
    document = read_document((FIXTURES / "phishing.eml").read_bytes(), filename="phishing.eml")
    assert document.mime_type == "message/rfc822"
    assert document.title == "Overdue invoice 4471 - action required"
    meta = document.metadata
    assert meta["from"] == "Billing Team <billing@secure-invoices.example.co.uk>"
    assert meta["to"] == "victim@acme-corp.com"
    assert "jane.doe@acme-corp.com" in meta["cc"]
    assert meta["attachments"] == [
        {"filename": "invoice_4471.zip", "content_type": "application/zip", "size": 22}
    ]
    assert meta["links"] == ["https://pay-portal.top/inv/4471"]
    # Headers first, so the sender's address is in the text; then the plain and HTML bodies.
    assert document.text.startswith("From: Billing Team <billing@secure-invoices.example.co.uk>")
    assert "hxxps://pay-portal[.]top/inv/4471" in document.text
    assert "Pay at our portal" in document.text
    assert "tracker.example.net" not in document.text  # the script of the HTML part


def test_an_html_only_email_gives_the_visible_text():
    raw = (
        b"From: a@example.com\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n"
        b"<p>Visit <b>evil.example.org</b></p><script>x='hidden.example.org'</script>"
    )
    document = read_document(raw)
    assert document.mime_type == "message/rfc822"
    assert "Visit evil.example.org" in document.text
    assert "hidden.example.org" not in document.text


def test_unsupported_types_and_binary_content_are_refused():
    with pytest.raises(Invalid):
        read_document(b"PK\x03\x04", mime_type="application/zip")
    with pytest.raises(Invalid) as refused:
        read_document(b"\x00\x01\x02binary")
    assert "binary" in refused.value.reason
