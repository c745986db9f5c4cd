"""Uploaded files as items: text, HTML, PDF and e-mail (.eml) read into text, then stored
as any collected record is (deduplicated, kept as a raw document, entities extracted).

Reading happens before the transaction (a PDF can take a while), storing inside it. A file's
identity is the SHA-256 of its bytes, so uploading the same file twice, under any name or
into any collection, stores it once.
"""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Invalid, KrsnError
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.osint.collections import service
from krsn.osint.collections.schemas import UploadedFile, UploadOutcome
from krsn.osint.collectors.base import Collected
from krsn.osint.models import Collection, CollectionItem

__all__ = [
    "EXTENSIONS",
    "MAX_FILE_BYTES",
    "SUPPORTED",
    "ReadFile",
    "UnsupportedMediaType",
    "Upload",
    "media_type_of",
    "read_uploads",
    "store_uploads",
]

ITEM_TYPE: Final = "upload"
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
"""The largest file the command line uploads; the API's cap is its body limit."""
SUPPORTED: Final = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/csv",
        "text/xml",
        "application/xml",
        "application/json",
        "text/html",
        "application/xhtml+xml",
        "application/pdf",
        "application/x-pdf",
        "message/rfc822",
    }
)
"""The media types uploads take: text (and text-like formats), HTML, PDF, e-mail."""
EXTENSIONS: Final = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".ioc": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".xml": "application/xml",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".pdf": "application/pdf",
    ".eml": "message/rfc822",
}
"""The media type of a file by its extension, when the sender names none."""
_VAGUE: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})


class UnsupportedMediaType(KrsnError):
    """A file of a type uploads do not read."""

    status = 415
    title = "Unsupported media type"


@dataclass(frozen=True, slots=True)
class Upload:
    """One file as received: its name, its bytes and the media type the sender gave."""

    filename: str
    data: bytes
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class ReadFile:
    """A file read into text, ready to store."""

    filename: str
    mime_type: str
    size: int
    sha256: str
    text: str
    title: str | None
    metadata: dict[str, Any]


def media_type_of(filename: str, given: str | None) -> str | None:
    """The file's media type: the one given (without parameters), else by its extension;
    None when neither says (the content then decides)."""
    if given:
        message = Message()
        message["content-type"] = given
        named = message.get_content_type().lower()
        # An unreadable header reads as text/plain; only a real one counts.
        if named not in _VAGUE and (named != "text/plain" or "/" in given):
            return named
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return EXTENSIONS.get(suffix) or mimetypes.guess_type(filename)[0]


def _unsupported(filename: str, mime_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"{filename}: {mime_type} is not a type uploads read; send text (.txt, .md), HTML "
        "(.html), PDF (.pdf) or an e-mail (.eml, message/rfc822).",
        filename=filename,
        mime_type=mime_type,
    )


def read_uploads(uploads: Sequence[Upload]) -> list[ReadFile]:
    """Each upload read into text; ``UnsupportedMediaType`` or ``Invalid`` naming the file."""
    from krsn.osint.extract.documents import read_document

    read: list[ReadFile] = []
    for upload in uploads:
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            raise Invalid("filename", "every uploaded file needs a name")
        if not upload.data:
            raise Invalid("file", f"{name} is empty")
        mime_type = media_type_of(name, upload.mime_type)
        if mime_type is not None and mime_type not in SUPPORTED:
            raise _unsupported(name, mime_type)
        try:
            document = read_document(upload.data, filename=name, mime_type=mime_type)
        except KrsnError as exc:
            if isinstance(exc, UnsupportedMediaType | Invalid):
                raise
            raise Invalid("file", f"{name}: {exc.detail}") from exc
        except (ValueError, UnicodeError) as exc:
            raise Invalid("file", f"{name} could not be read: {exc}") from exc
        read.append(
            ReadFile(
                filename=name,
                mime_type=mime_type or document.mime_type,
                size=len(upload.data),
                sha256=hashlib.sha256(upload.data).hexdigest(),
                text=document.text or "",
                title=document.title,
                metadata=dict(document.metadata or {}),
            )
        )
    return read


def _record(file: ReadFile) -> Collected:
    info = {"filename": file.filename, "size": file.size, "mime_type": file.mime_type}
    return Collected(
        item_type=ITEM_TYPE,
        raw={**info, "sha256": file.sha256, "title": file.title, "metadata": file.metadata},
        text=file.text,
        title=file.title,
        hash_basis=f"upload:{file.sha256}",
        file_info=info,
    )


def store_uploads(
    session: Session,
    *,
    actor: Actor,
    collection_id: uuid.UUID,
    files: Sequence[ReadFile],
    now: datetime | None = None,
) -> UploadOutcome:
    """Store read files as items of a collection, audited; files stored before are counted
    as duplicates. The collection's ``items_collected`` grows by the new ones."""
    from krsn.osint.items.store import content_hash, store_collected

    row = service.get_collection(session, collection_id)
    records = [_record(file) for file in files]
    stored = store_collected(
        session,
        collection_id=row.id,
        source_id=None,
        records=records,
        now=now or utcnow(),
    )
    hashes = [content_hash(record) for record in records]
    new_ids = set(stored.new_item_ids)
    by_hash: dict[str, uuid.UUID] = {}
    if new_ids:
        by_hash = {
            str(digest): item_id
            for item_id, digest in session.execute(
                select(CollectionItem.id, CollectionItem.hash).where(CollectionItem.id.in_(new_ids))
            )
        }
    if new_ids:
        session.execute(
            update(Collection)
            .where(Collection.id == row.id)
            .values(items_collected=func.coalesce(Collection.items_collected, 0) + len(new_ids))
            .execution_options(synchronize_session=False)
        )
    shown: list[UploadedFile] = []
    for file, digest in zip(files, hashes, strict=True):
        # The same bytes twice in one upload: the first one is the new item.
        item_id = by_hash.pop(digest, None)
        shown.append(
            UploadedFile(
                filename=file.filename,
                mime_type=file.mime_type,
                size=file.size,
                title=file.title,
                item_id=item_id,
                duplicate=item_id is None,
            )
        )
    audit.record(
        session,
        actor=actor,
        action=f"{service.RESOURCE}.upload",
        resource_type=service.RESOURCE,
        resource_id=row.id,
        details={
            "files": [
                {"filename": f.filename, "size": f.size, "duplicate": f.duplicate} for f in shown
            ],
            "items": len(new_ids),
        },
    )
    return UploadOutcome(
        collection_id=row.id,
        files=shown,
        items_collected=len(new_ids),
        entities=stored.entities,
        documents=stored.documents,
    )
