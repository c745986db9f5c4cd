"""The domain's exceptions, and the one place that turns them into RFC 9457 problem details."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class KrsnError(Exception):
    """Base of every error the platform raises on purpose."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Invalid(KrsnError):
    """A value a caller gave is not acceptable; ``field`` names it."""

    status = 422
    title = "Invalid value"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.field = field
        self.reason = reason


class MalformedJSON(KrsnError):
    """A request body that cannot be read as JSON; ``reason`` says where and why."""

    title = "Malformed JSON"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The request body is not valid JSON: {reason}. "
            "Send a JSON document with Content-Type: application/json."
        )
        self.reason = reason


class NotFound(KrsnError):
    status = 404
    title = "Not found"


class Conflict(KrsnError):
    status = 409
    title = "Conflict"


class Unauthorized(KrsnError):
    status = 401
    title = "Authentication required"


class Forbidden(KrsnError):
    status = 403
    title = "Forbidden"


class Locked(KrsnError):
    status = 423
    title = "Account locked"


class RateLimited(KrsnError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class PayloadTooLarge(KrsnError):
    status = 413
    title = "Request body too large"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _describe_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {"field": ".".join(location) or "body", "reason": error.get("msg", "invalid")}


def install_handlers(app: FastAPI) -> None:
    """Make every error, ours or the framework's, answer as problem details."""

    @app.exception_handler(KrsnError)
    async def _domain(request: Request, exc: KrsnError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": 'Bearer realm="krsn"'}
        return problem(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers=headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            reason = next(
                (
                    e.get("ctx", {}).get("error", "")
                    for e in errors
                    if e.get("type") == "json_invalid"
                ),
                "",
            )
            return problem(
                400,
                "Malformed JSON",
                f"The request body is not valid JSON{': ' + str(reason) if reason else ''}. "
                "Send a JSON document with Content-Type: application/json.",
                instance=request.url.path,
            )
        described = [_describe_validation_error(e) for e in errors]
        summary = "; ".join(f"{d['field']}: {d['reason']}" for d in described[:5])
        return problem(
            422,
            "Invalid request",
            f"Fix these fields and retry: {summary}",
            instance=request.url.path,
            errors=json.loads(json.dumps(described, default=str)),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A race past a service's own check (two creates of one name at once) lands here.
        log.info("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(
            409,
            "Conflict",
            "The change clashes with existing data (a duplicate or a missing reference); "
            "reload and retry.",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "The server failed to handle this request; the error is logged. "
            "Retry, and report it if it persists.",
            instance=request.url.path,
        )
