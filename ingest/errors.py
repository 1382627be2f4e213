"""The one JSON error shape of ingest, and the handlers that map every failure onto it.

``{"error": {"code": "PEN.702", "message": "...", "details": {...}}}`` for every
4xx and 5xx: our own :class:`ApiError`, request validation, routing (404/405)
and unexpected exceptions (500, logged, no internals in the body). The code is
also left in the request's state for the request log line, and the OpenAPI
document declares this shape for every error response.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

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


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request.state.error_code = code
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def error_response(scope: Scope, exc: ApiError) -> JSONResponse:
    """The answer to ``exc``, as the handler of :class:`ApiError` gives it (for a route
    that answers without FastAPI's exception handling: :mod:`ingest.batch_route`)."""
    return _respond(Request(scope), exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _api_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, ApiError)
    return _respond(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return _respond(
        request, 422, "HTTP.422", "the request does not match the API schema", {"errors": errors}
    )


async def _http(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, StarletteHTTPException)
    return _respond(request, exc.status_code, f"HTTP.{exc.status_code}", str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Any:
    log.exception("request.failed", path=request.url.path)
    return _respond(
        request, 500, "HTTP.500", "internal error; the request was not stored, retry later"
    )


def _declare_error_shape(schema: dict[str, Any]) -> None:
    shape = {"application/json": {"schema": _ERROR_SCHEMA}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = shape
            responses.setdefault("4XX", {"description": "refused", "content": shape})
            responses.setdefault("5XX", {"description": "failed", "content": shape})
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced
        schema.get("components", {}).get("schemas", {}).pop(unused, None)


def _document_errors(app: FastAPI) -> None:
    """Declare the error shape for 4XX, 5XX and each error status of every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _declare_error_shape(generate())  # generate() keeps it in app.openapi_schema
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
    _document_errors(app)
