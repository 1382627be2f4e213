"""Access decisions: every route declares who may call it, or the app refuses to start.

A route gets its decision as a dependency. Three kinds exist:

- ``PUBLIC``: anyone (health, readiness).
- ``STATION``: the handler authenticates the station itself, by the batch's
  Ed25519 signature or the one-time kit code at enrolment.
- :func:`require` ``("high_authority", "federation")``: a bearer token whose
  user has one of these roles; the dependency returns the
  :class:`~ingest.auth.Principal`, whose scope (département, station) the
  handler's queries then apply. 401 without a valid token (with
  ``WWW-Authenticate: Bearer``), 403 with a valid token of another role.

:func:`check_access_decisions` runs in the app factory and refuses any route
that has none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import fastapi.routing
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ingest.auth import Principal, Role, authenticate
from ingest.errors import ApiError


async def public() -> None:
    """Anyone may call this route."""


async def station_signature() -> None:
    """The handler authenticates the station: batch signature or one-time enrolment code."""


_bearer = HTTPBearer(auto_error=False, description="a token from `plume users create`")


class RoleDecision:
    """Dependency: the caller holds a live token of one of ``roles``; returns the principal."""

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("a role decision names at least one role")
        self.roles = frozenset(roles)

    async def __call__(
        self,
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> Principal:
        if credentials is None:
            raise ApiError(
                401,
                "AUTH.401",
                "this route needs a token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        engine = request.app.state.engine
        principal = await run_in_threadpool(authenticate, engine, credentials.credentials)
        if principal is None:
            raise ApiError(
                401,
                "AUTH.401",
                "the token is unknown, expired or revoked; ask for a new one",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise ApiError(
                403,
                "AUTH.403",
                f"role {principal.role} may not call this route (it is for: {allowed})",
            )
        request.state.principal = principal
        return principal


def require(*roles: str) -> Any:
    """``Depends`` on a :class:`RoleDecision` for ``roles`` (names of :class:`Role`)."""
    return Depends(RoleDecision(*(Role(r) for r in roles)))


_PLAIN: frozenset[Callable[[], Awaitable[None]]] = frozenset({public, station_signature})
PUBLIC: Any = Depends(public)
STATION: Any = Depends(station_signature)


def api_routes(app: FastAPI) -> Iterator[tuple[str, frozenset[str], Dependant]]:
    """(path, methods, dependant) of every API route, inside included routers too.

    FastAPI from 0.16x keeps an included router as one branch of ``app.routes``
    (``iter_route_contexts`` walks them); older versions copy its routes into
    ``app.routes``. Both are walked, so no route escapes the check.
    """
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    items: Iterable[Any] = walk(app.routes) if walk else app.routes
    for item in items:
        route = getattr(item, "original_route", item)
        if isinstance(route, APIRoute):
            yield item.path, frozenset(item.methods or ()), route.dependant


def find_route(app: FastAPI, path: str, method: str) -> APIRoute:
    """The API route of ``app`` that answers ``method`` on ``path`` (a template)."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    items: Iterable[Any] = walk(app.routes) if walk else app.routes
    for item in items:
        route = getattr(item, "original_route", item)
        if isinstance(route, APIRoute) and item.path == path and method in (item.methods or ()):
            return route
    raise LookupError(f"no route answers {method} {path}")


def decisions(dependant: Dependant) -> list[Any]:
    """The access decisions among a route's dependencies."""
    return [
        dep.call
        for dep in dependant.dependencies
        if dep.call in _PLAIN or isinstance(dep.call, RoleDecision)
    ]


def check_access_decisions(app: FastAPI) -> None:
    """Raise ``RuntimeError`` naming every API route without an access decision."""
    missing = [
        f"{sorted(methods)} {path}"
        for path, methods, dependant in api_routes(app)
        if not decisions(dependant)
    ]
    if missing:
        raise RuntimeError(f"routes without an access decision: {', '.join(missing)}")
