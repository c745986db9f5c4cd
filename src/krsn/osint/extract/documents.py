"""Read the text out of an uploaded file: plain text, HTML, PDF or an e-mail (``.eml``).

Nothing in a file is executed or fetched: HTML is parsed by lxml with network access off and
scripts, styles and templates dropped (only the visible text is kept); PDFs are read by pypdf
(text only, no JavaScript or embedded files); e-mails are parsed by the standard library with
``policy.default``, their attachments listed by name and never opened. A file that cannot be
read raises :class:`~krsn.errors.Invalid` saying why; no parser error escapes.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Final

from krsn.errors import Invalid

__all__ = ["MIME_TYPES", "Document", "read_document"]

log = logging.getLogger(__name__)

TEXT: Final = "text/plain"
HTML: Final = "text/html"
PDF: Final = "application/pdf"
EML: Final = "message/rfc822"
MIME_TYPES: Final = (TEXT, HTML, PDF, EML)
"""The formats :func:`read_document` reads."""

_BY_EXTENSION: Final = {
    "txt": TEXT,
    "text": TEXT,
    "md": TEXT,
    "adoc": TEXT,
    "csv": TEXT,
    "log": TEXT,
    "json": TEXT,
    "xml": TEXT,
    "ioc": TEXT,
    "html": HTML,
    "htm": HTML,
    "xhtml": HTML,
    "pdf": PDF,
    "eml": EML,
}
_ALIASES: Final = {
    "application/xhtml+xml": HTML,
    "application/x-pdf": PDF,
    "text/markdown": TEXT,
    "text/csv": TEXT,
    "application/json": TEXT,
    "text/xml": TEXT,
    "application/xml": TEXT,
    "application/octet-stream": "",
}
_EMAIL_HEADER = re.compile(
    rb"^(?:Received|Return-Path|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To"
    rb"|X-[A-Za-z-]+):[ \t]",
    re.IGNORECASE,
)
_HTML_START = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<head|<body|<!--)", re.IGNORECASE)
# Elements whose content is never shown.
_HIDDEN: Final = ("script", "style", "noscript", "template", "head", "svg", "object", "iframe")
_BLOCKS: Final = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "pre", "blockquote", "section", "article", "header", "footer", "td", "th", "dd", "dt",
        "hr", "form", "main", "nav", "aside", "figcaption",
    }
)  # fmt: skip
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_WHITE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Document:
    """The readable text of a file, its title and what else the file says about itself."""

    text: str
    title: str | None
    mime_type: str
    metadata: dict[str, Any] = field(default_factory=dict)


def read_document(
    data: bytes, *, filename: str | None = None, mime_type: str | None = None
) -> Document:
    """The text of a text, HTML, PDF or e-mail file; the type comes from ``mime_type``, else the
    file name's extension, else the content."""
    kind = _kind(data, filename, mime_type)
    if kind == PDF:
        return _pdf(data)
    if kind == EML:
        return _eml(data)
    if kind == HTML:
        return _html_document(_decode(data, "body"))
    return Document(text=_decode(data, "body"), title=None, mime_type=TEXT, metadata={})


def _kind(data: bytes, filename: str | None, mime_type: str | None) -> str:
    if mime_type:
        base = mime_type.split(";", 1)[0].strip().lower()
        base = _ALIASES.get(base, base)
        if base in MIME_TYPES:
            return base
        if base and not base.startswith("text/"):
            raise Invalid(
                "content-type",
                f"{base} is not readable; send text/plain, text/html, application/pdf "
                "or message/rfc822",
            )
    if filename and "." in filename:
        extension = filename.rsplit(".", 1)[1].lower()
        if extension in _BY_EXTENSION:
            return _BY_EXTENSION[extension]
    head = data[:1024]
    if head.startswith(b"%PDF-"):
        return PDF
    if _HTML_START.match(head):
        return HTML
    if _EMAIL_HEADER.match(head.lstrip()):
        return EML
    return TEXT


def _decode(data: bytes, what: str) -> str:
    """Bytes as text: a BOM decides, else UTF-8, else Windows-1252 (what older reports use)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:4096]:
        raise Invalid(what, "binary content, not text (a NUL byte); send text, HTML, PDF or .eml")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


# --- HTML -------------------------------------------------------------------------------------


def _html_document(markup: str) -> Document:
    text, title, links = _html_text(markup)
    metadata: dict[str, Any] = {"links": links} if links else {}
    return Document(text=text, title=title, mime_type=HTML, metadata=metadata)


def _html_text(markup: str) -> tuple[str, str | None, list[str]]:
    """Visible text, title and link targets of an HTML page (never fetched or run)."""
    from lxml import etree
    from lxml import html as lxml_html

    if not markup.strip():
        return "", None, []
    parser = lxml_html.HTMLParser(
        no_network=True, remove_comments=True, remove_pis=True, recover=True
    )
    try:
        # Encoded as UTF-8 bytes so a page's own XML encoding declaration cannot trip lxml.
        root = lxml_html.document_fromstring(markup.encode("utf-8"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise Invalid("body", f"not readable HTML: {exc}") from None
    title_element = root.find(".//title")
    title = (
        _SPACES.sub(" ", title_element.text_content()).strip()
        if title_element is not None
        else None
    )
    links = [href for href in root.xpath("//a/@href") if isinstance(href, str) and href.strip()]
    for hidden in root.xpath("|".join(f"//{tag}" for tag in _HIDDEN)):
        hidden.drop_tree()
    parts: list[str] = []
    preformatted = 0  # inside <pre>, line breaks are text; elsewhere any white space is a space
    # Start and end events rather than recursion: a hostile page may nest thousands deep.
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            preformatted += tag == "pre"
            if tag in _BLOCKS:
                parts.append("\n")
            if element.text and tag:
                parts.append(element.text if preformatted else _WHITE.sub(" ", element.text))
        else:
            preformatted -= tag == "pre"
            if tag in _BLOCKS:
                parts.append("\n")
            if element.tail:
                parts.append(element.tail if preformatted else _WHITE.sub(" ", element.tail))
    text = _SPACES.sub(" ", "".join(parts))
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n")))
    return text.strip(), title or None, links


# --- PDF ----------------------------------------------------------------------------------------


def _pdf(data: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Invalid("body", "the PDF is encrypted with a password; send it decrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except Invalid:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
    ) as exc:
        # pypdf raises many kinds on damaged files; each is a bad upload, not a server fault.
        raise Invalid("body", f"not a readable PDF: {exc.__class__.__name__}: {exc}") from None
    except RecursionError:
        raise Invalid("body", "not a readable PDF: its object tree nests too deeply") from None
    metadata: dict[str, Any] = {"pages": len(pages)}
    title = None
    if info is not None:
        for key, name in (
            ("/Author", "author"),
            ("/Subject", "subject"),
            ("/Creator", "creator"),
            ("/Producer", "producer"),
        ):
            value = info.get(key)
            if value:
                metadata[name] = str(value)
        if info.get("/Title"):
            title = str(info.get("/Title"))
    return Document(text="\n\n".join(pages).strip(), title=title, mime_type=PDF, metadata=metadata)


# --- e-mail ---------------------------------------------------------------------------------------

_HEADERS: Final = ("From", "To", "Cc", "Subject", "Date")


def _eml(data: bytes) -> Document:
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        if not isinstance(message, email.message.EmailMessage) or not message.keys():
            raise Invalid("body", "not an e-mail message: no headers")
        metadata: dict[str, Any] = {}
        header_lines: list[str] = []
        for name in _HEADERS:
            value = message.get(name)
            if value is not None:
                metadata[name.lower()] = str(value)
                header_lines.append(f"{name}: {value}")
        if message.get("Message-ID"):
            metadata["message_id"] = str(message.get("Message-ID"))
        plain = message.get_body(preferencelist=("plain",))
        rich = message.get_body(preferencelist=("html",))
        bodies: list[str] = []
        if plain is not None:
            bodies.append(_content(plain))
        if rich is not None:
            text, _, links = _html_text(_content(rich))
            if plain is None or text.strip() != bodies[0].strip():
                bodies.append(text)
            if links:
                metadata["links"] = links
        attachments = [
            {
                "filename": part.get_filename() or "",
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in message.iter_attachments()
        ]
    except Invalid:
        raise
    except (LookupError, ValueError, TypeError, AttributeError, IndexError) as exc:
        # Damaged headers or transfer encodings: a bad upload, said as such.
        raise Invalid("body", f"not a readable e-mail: {exc.__class__.__name__}: {exc}") from None
    metadata["attachments"] = attachments
    subject = metadata.get("subject")
    text = "\n".join(header_lines) + "\n\n" + "\n\n".join(b.strip() for b in bodies if b.strip())
    return Document(text=text.strip(), title=subject, mime_type=EML, metadata=metadata)


def _content(part: email.message.MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""
