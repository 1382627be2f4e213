"""The lean path of ``POST /v1/stations/{station_id}/batches``: the same route, less framework.

Every station agent uploads a batch every :data:`~station_agent.closing.UPLOAD_INTERVAL_S`
while its pen writes, so this one route carries nearly all of the service's
requests, and FastAPI's per-request work (routing through included routers,
dependency solving, request objects, exception middleware) cost more CPU than
parsing, verifying and storing a small batch (docs/benchmarks.md).

:class:`BatchRoute` is an ASGI middleware just inside the request log
(:class:`~ingest.observability.RequestLog`, so request ids, metrics and log lines
are unchanged). It answers a POST whose path the documented route matches, with a
station id its pattern accepts, by calling what that route's handler calls,
:func:`ingest.api.answer_batch`: the same answers, error shape and stored refusals.
Its access decision is the route's own, checked when the app is built (the station
authenticates by its batch signature). Everything else, an invalid station id
included, goes on to FastAPI, which answers it as before; the OpenAPI document is
FastAPI's, from the route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.access import decisions, find_route, station_signature
from ingest.api import BATCHES_PATH, answer_batch
from pen.batches import STATION_ID_RE


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives (what ``Request.stream()`` gives)."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _content_length(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return str(value.decode("latin-1"))
    return None


class BatchRoute:
    """ASGI middleware: answer batch uploads for ``route``; pass everything else on."""

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match, child = self.route.matches(scope)
            station_id = child["path_params"]["station_id"] if match is Match.FULL else ""
            if STATION_ID_RE.fullmatch(station_id):
                scope.update(child)  # as the router does: the request log reads the route
                answer = await answer_batch(
                    scope["app"], scope, station_id, _body(receive), _content_length(scope)
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_batch_route(app: FastAPI) -> None:
    """Answer batch uploads on the lean path; refuse to build if the route's access
    decision is not the station's signature (the lean path makes no other)."""
    route = find_route(app, BATCHES_PATH, "POST")
    if decisions(route.dependant) != [station_signature]:
        raise RuntimeError(f"POST {BATCHES_PATH}: the lean path only serves a STATION route")
    # innermost of the app's middleware: inside the request log and its metrics
    app.user_middleware.append(Middleware(BatchRoute, route=route))
