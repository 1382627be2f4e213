"""The one JSON error shape of ingest, and the handlers that map every failure onto it.

``{"error": {"code": "PEN.702", "message": "...", "details": {...}}}`` for every
4xx and 5xx: our own :class:`ApiError`, request validation, routing (404/405)
and unexpected exceptions (500, logged, no internals in the body).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An HTTP error with a stable code and a sentence that says what to do."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        """Extra response headers (``WWW-Authenticate`` on a 401)."""


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _respond(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, ApiError)
    return _respond(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return _respond(
        422, "HTTP.422", "the request does not match the API schema", {"errors": errors}
    )


async def _http(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, StarletteHTTPException)
    return _respond(exc.status_code, f"HTTP.{exc.status_code}", str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Any:
    log.exception("request.failed", path=request.url.path)
    return _respond(500, "HTTP.500", "internal error; the request was not stored, retry later")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
