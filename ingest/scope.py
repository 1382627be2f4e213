"""What a caller may see, as query filters, and the one pagination of list routes.

Scope is enforced in the queries, never after the fact in handlers: a federation
of 75 asking for a station, finding or contact of 13 gets the same 404 as for
an id that does not exist (existence is not leaked either).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from ingest.auth import Principal
from ingest.errors import ApiError
from ingest.geo import departement_of

MAX_LIMIT = 1000

T = TypeVar("T", bound=Select[Any])


class Page(BaseModel):
    """``limit`` (1..1000, default 100) and ``offset`` of a list route."""

    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most 1000")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageParams = Annotated[Page, Depends(_page)]


def scoped(
    stmt: T,
    who: Principal,
    departement: InstrumentedAttribute[str],
    station: InstrumentedAttribute[str],
) -> T:
    """``stmt`` restricted to the caller's département and station, if it has one."""
    if who.departement is not None:
        stmt = stmt.where(departement == who.departement)
    if who.station_id is not None:
        stmt = stmt.where(station == who.station_id)
    return stmt


def sees_station(who: Principal, station_id: str) -> bool:
    """Whether ``station_id`` is inside the caller's scope."""
    if who.station_id is not None and station_id != who.station_id:
        return False
    return who.departement is None or departement_of(station_id) == who.departement


def station_in_scope(who: Principal, station_id: str) -> None:
    """404 (not 403: no existence leak) for a station outside the caller's scope."""
    if not sees_station(who, station_id):
        raise not_found("station", station_id)


def departement_in_scope(who: Principal, departement: str) -> None:
    if who.station_id is not None or (
        who.departement is not None and departement != who.departement
    ):
        raise ApiError(
            403,
            "AUTH.403",
            f"département {departement} is outside your scope ({who.departement or 'a station'})",
        )


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError(404, "HTTP.404", f"no {kind} {ident} that you may see; check the id")
