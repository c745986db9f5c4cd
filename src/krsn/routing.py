"""The route class of every API router: input is checked as text every engine can store.

JSON bodies are read strictly (no NaN or Infinity, UTF-8 only, bounded nesting), and no
string in a body, query or path may hold NUL or a lone UTF-16 surrogate: PostgreSQL
refuses the first, no encoder writes the second, and both would otherwise surface as a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any, NoReturn

from fastapi import Request, Response
from fastapi.routing import APIRoute

from krsn.errors import Invalid, MalformedJSON

# Only bodies that may hold NUL or a surrogate are walked; the rest pay for one regex scan.
_SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])|[\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _reject_constant(name: str) -> NoReturn:
    raise MalformedJSON(f"{name} is not a JSON number; send a finite number or null")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, or None when it can."""
    if "\x00" in text:
        return "contains the NUL character (\\u0000), which cannot be stored; remove it"
    found = _SURROGATE.search(text)
    if found:
        return (
            f"contains a lone UTF-16 surrogate (\\u{ord(found.group()):04x}), "
            "which is not text; send valid Unicode"
        )
    return None


def _check_strings(value: Any, where: str) -> None:
    if isinstance(value, str):
        reason = unstorable(value)
        if reason:
            raise Invalid(where or "body", reason)
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            reason = unstorable(key)
            if reason:
                raise Invalid(where or "body", f"a key {reason}")
            _check_strings(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{where}.{index}" if where else str(index))


def parse_json(body: bytes) -> Any:
    """A request body as JSON, or MalformedJSON / Invalid saying what to fix."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJSON(
            f"the body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MalformedJSON(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MalformedJSON("it is nested too deeply") from None
    if _SUSPECT.search(text):
        _check_strings(value, "")
    return value


class StrictJSONRequest(Request):
    """A request whose ``json()`` is ``parse_json``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def _is_json(content_type: str | None) -> bool:
    # The same test FastAPI applies before it parses a body as JSON.
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class ApiRoute(APIRoute):
    """Checks path, query and JSON body before FastAPI validates them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_json = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
                reason = unstorable(str(name)) or unstorable(str(value))
                if reason:
                    raise Invalid(str(name), reason)
            strict = StrictJSONRequest(request.scope, request.receive)
            if reads_json and _is_json(strict.headers.get("content-type")):
                body = await strict.body()
                if body:
                    # Parsed here, outside FastAPI, so our errors keep their own answer.
                    await strict.json()
            return await handler(strict)

        return strict_handler
