"""Extraction as the API and the command line call it: a file or a text in, findings out.

Nothing is stored; storing what an item mentions is the entities' processing
(:mod:`krsn.osint.entities.processing`), which calls :func:`~krsn.osint.extract.text.extract_text`.
"""

from __future__ import annotations

from collections.abc import Iterable

from krsn.osint.extract.documents import Document, read_document
from krsn.osint.extract.findings import Finding
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType


def extract_file(
    data: bytes,
    *,
    filename: str | None = None,
    mime_type: str | None = None,
    types: Iterable[EntityType] | None = None,
    ner: bool = True,
) -> tuple[Document, list[Finding]]:
    """Read a file and extract from its text; offsets refer to ``Document.text``."""
    document = read_document(data, filename=filename, mime_type=mime_type)
    return document, extract_text(document.text, types=types, ner=ner)
