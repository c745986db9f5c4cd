"""REST route of extraction: ``POST /extract`` answers what a text or a file mentions.

The body is either JSON (``{"text": ..., "types": [...], "ner": true}``) or a file sent as the
raw body with its Content-Type (``text/plain``, ``text/html``, ``application/pdf``,
``message/rfc822``); for a file, ``types`` and ``ner`` are query parameters. Nothing is stored,
so any signed-in reader may call it. The request body cap (``KRSN_MAX_BODY_BYTES``) bounds an
upload.
"""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from krsn.dependencies import Reader
from krsn.errors import Invalid
from krsn.osint.extract import service
from krsn.osint.extract.documents import MIME_TYPES
from krsn.osint.extract.schemas import ExtractRequest, FindingRead
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType
from krsn.routing import ApiRoute, parse_json

router = APIRouter(prefix="/extract", tags=["extraction"], route_class=ApiRoute)

_JSON = "application/json"


def _media_type(request: Request) -> str:
    given = request.headers.get("content-type")
    if not given:
        return "text/plain"
    message = Message()
    message["content-type"] = given
    return message.get_content_type()


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    # A schema placed in openapi_extra keeps its own "$defs", which "#/$defs/..." cannot reach
    # from inside the OpenAPI document: inline them, so client generators can resolve it.
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


async def _upload(request: Request) -> tuple[str, bytes]:
    # Read on the event loop; the work itself runs in the thread pool (a sync route).
    return _media_type(request), await request.body()


@router.post(
    "",
    response_model=list[FindingRead],
    summary="Extract indicators and named entities from a text or a file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": _inlined(ExtractRequest.model_json_schema())},
                **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in MIME_TYPES},
            },
        }
    },
)
def extract(
    upload: Annotated[tuple[str, bytes], Depends(_upload)],
    principal: Reader,
    types: Annotated[
        list[EntityType] | None,
        Query(alias="type", description="For a file: only these types (repeatable)."),
    ] = None,
    ner: Annotated[
        bool, Query(description="For a file: also persons, organisations, places.")
    ] = True,
    filename: Annotated[
        str | None, Query(max_length=255, description="For a file: its name, to tell the format.")
    ] = None,
) -> list[FindingRead]:
    """Every finding by offset: type, canonical value, the text as written, offsets,
    confidence and method. A file's offsets refer to the text read out of it."""
    media_type, body = upload
    if media_type == _JSON:
        if not body.strip():
            raise Invalid("body", 'empty; send {"text": "..."}')
        try:
            wanted = ExtractRequest.model_validate(parse_json(body))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "body"
            raise Invalid(where, error["msg"]) from None
        findings = extract_text(wanted.text, types=wanted.types, ner=wanted.ner)
    else:
        if not body:
            raise Invalid("body", "empty; send the file as the request body")
        _, findings = service.extract_file(
            body, filename=filename, mime_type=media_type, types=types, ner=ner
        )
    return [FindingRead.of(finding) for finding in findings]
