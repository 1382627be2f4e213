"""Access decisions: every route declares who may call it, or the app refuses to start.

A route gets its decision as a dependency (``dependencies=[PUBLIC]`` and the like).
:func:`check_access_decisions` runs in the app factory. This round knows two
decisions: ``public`` (health, readiness, docs) and ``station_signature`` (the
station's Ed25519 signature, checked by the handler against the enrolled key, or
the one-time kit code at enrolment). Users, roles and tokens come next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute


def public() -> None:
    """Anyone may call this route."""


def station_signature() -> None:
    """The handler authenticates the station: batch signature or one-time enrolment code."""


ACCESS_DECISIONS: frozenset[Callable[[], None]] = frozenset({public, station_signature})
PUBLIC: Any = Depends(public)
STATION: Any = Depends(station_signature)


def check_access_decisions(app: FastAPI) -> None:
    """Raise ``RuntimeError`` naming every API route without an access decision."""
    missing = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute)
        and not any(dep.call in ACCESS_DECISIONS for dep in route.dependant.dependencies)
    ]
    if missing:
        raise RuntimeError(f"routes without an access decision: {', '.join(missing)}")
