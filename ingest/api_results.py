"""Read routes: who am I, results, station status, batches, rejections, findings.

Every route declares its roles with :func:`ingest.access.require`; scope
(département, station) is applied in the queries (:mod:`ingest.scope`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from ingest import results, status
from ingest.access import require
from ingest.auth import Principal
from ingest.db import Rejection, StoredBatch, session
from ingest.scope import PageParams, departement_in_scope, not_found, station_in_scope

StationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Departement = Annotated[str, Path(pattern=r"^(\d{2}|2[AB]|97[1-6])$")]

EVERY_ROLE = require("high_authority", "federation", "station", "reviewer", "coordinator")
AUTHORITY = require("high_authority")
REGIONAL = require("high_authority", "federation")
STATION_VIEW = require("high_authority", "federation", "station")


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


class Me(BaseModel):
    name: str
    role: str
    departement: str | None
    station_id: str | None


class CandidateOut(BaseModel):
    field: str = Field(description="candidate_N of the PV")
    votes: int
    share: float = Field(description="votes over all candidates' votes, 0..1")


class ResultsOut(BaseModel):
    scope: str = Field(description="national, a département code, or a station id")
    stations_expected: int
    stations_reporting: int = Field(description="stations with a complete PV, summed here")
    totals: dict[str, int]
    candidates: list[CandidateOut]


class StationStatusOut(BaseModel):
    station_id: str
    departement: str
    enrolled: bool
    enrolled_at_ms: int | None
    head_seq: int
    batches: int
    last_batch_ms: int | None
    rejections: int
    pv_complete: bool
    open_findings: int
    closing_code: str | None = Field(
        description="closing code of the chain head, once the PV is complete"
    )


class StationPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[StationStatusOut]


class BatchOut(BaseModel):
    seq: int
    hash: str
    prev_hash: str
    format_version: int
    created_ms: int
    received_at_ms: int
    event_count: int


class BatchPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[BatchOut]


class RejectionOut(BaseModel):
    id: int
    seq: int | None
    code: str
    reason: str
    message: str
    body_sha256: str
    received_at_ms: int


class RejectionPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[RejectionOut]


class FindingOut(BaseModel):
    id: int
    station_id: str
    departement: str
    code: str
    severity: str
    message: str
    fields: list[Any]
    evidence: dict[str, Any]
    status: str
    created_ms: int


class FindingPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[FindingOut]


def _results(t: results.Totals) -> ResultsOut:
    return ResultsOut(
        scope=t.scope,
        stations_expected=t.stations_expected,
        stations_reporting=t.stations_reporting,
        totals=t.totals,
        candidates=[CandidateOut(**c.__dict__) for c in t.candidates],
    )


router = APIRouter(prefix="/v1", tags=["results and status"])


@router.get("/me", response_model=Me)
def get_me(who: Principal = EVERY_ROLE) -> Me:
    """The caller's user, role and scope."""
    return Me(name=who.name, role=who.role, departement=who.departement, station_id=who.station_id)


@router.get("/results/national", response_model=ResultsOut)
async def get_national(request: Request, who: Principal = AUTHORITY) -> ResultsOut:
    """National totals over complete PVs, with each candidate's share."""
    return _results(await run_in_threadpool(results.totals, engine_of(request), None))


@router.get("/results/departements/{departement}", response_model=ResultsOut)
async def get_departement(
    request: Request, departement: Departement, who: Principal = REGIONAL
) -> ResultsOut:
    """One département's totals (a federation: its own only)."""
    departement_in_scope(who, departement)
    return _results(await run_in_threadpool(results.totals, engine_of(request), departement))


@router.get("/results/stations/{station_id}", response_model=ResultsOut)
async def get_station_results(
    request: Request, station_id: StationId, who: Principal = REGIONAL
) -> ResultsOut:
    """One station's PV values as read, complete or not (stations_reporting says which)."""
    station_in_scope(who, station_id)
    t = await run_in_threadpool(results.station_totals, engine_of(request), station_id)
    if t is None:
        raise not_found("station", station_id)
    return _results(t)


def _status_page(engine: Engine, who: Principal, limit: int, offset: int) -> StationPage:
    ids = status.station_ids(engine, who)
    items = status.statuses(engine, ids[offset : offset + limit])
    return StationPage(
        total=len(ids),
        limit=limit,
        offset=offset,
        items=[StationStatusOut(**st.__dict__) for st in items],
    )


@router.get("/stations", response_model=StationPage)
async def get_stations(request: Request, page: PageParams, who: Principal = STATION_VIEW) -> Any:
    """Status of every station in the caller's scope, by station id."""
    return await run_in_threadpool(_status_page, engine_of(request), who, page.limit, page.offset)


@router.get("/stations/{station_id}", response_model=StationStatusOut)
async def get_station(
    request: Request, station_id: StationId, who: Principal = STATION_VIEW
) -> StationStatusOut:
    """One station's status."""
    station_in_scope(who, station_id)
    found = await run_in_threadpool(status.statuses, engine_of(request), [station_id])
    if not found:
        raise not_found("station", station_id)
    return StationStatusOut(**found[0].__dict__)


def _batches(engine: Engine, station_id: str, limit: int, offset: int) -> BatchPage:
    where = StoredBatch.station_id == station_id
    with session(engine) as s:
        total = s.scalar(select(func.count()).select_from(StoredBatch).where(where)) or 0
        rows = s.scalars(
            select(StoredBatch).where(where).order_by(StoredBatch.seq).limit(limit).offset(offset)
        )
        items = [BatchOut.model_validate(b, from_attributes=True) for b in rows]
    return BatchPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/stations/{station_id}/batches", response_model=BatchPage)
async def get_batches(
    request: Request, station_id: StationId, page: PageParams, who: Principal = STATION_VIEW
) -> Any:
    """The station's accepted batches (metadata; the signed bodies stay in storage)."""
    station_in_scope(who, station_id)
    engine = engine_of(request)
    return await run_in_threadpool(_batches, engine, station_id, page.limit, page.offset)


def _rejections(engine: Engine, station_id: str, limit: int, offset: int) -> RejectionPage:
    where = Rejection.station_id == station_id
    with session(engine) as s:
        total = s.scalar(select(func.count()).select_from(Rejection).where(where)) or 0
        rows = s.scalars(
            select(Rejection).where(where).order_by(Rejection.id).limit(limit).offset(offset)
        )
        items = [RejectionOut.model_validate(r, from_attributes=True) for r in rows]
    return RejectionPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/stations/{station_id}/rejections", response_model=RejectionPage)
async def get_rejections(
    request: Request, station_id: StationId, page: PageParams, who: Principal = STATION_VIEW
) -> Any:
    """The station's refused batches: why, and the body's hash."""
    station_in_scope(who, station_id)
    engine = engine_of(request)
    return await run_in_threadpool(_rejections, engine, station_id, page.limit, page.offset)


@router.get("/findings", response_model=FindingPage)
async def get_findings(
    request: Request,
    page: PageParams,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    departement: Annotated[str | None, Query(max_length=3)] = None,
    code: Annotated[str | None, Query(max_length=16)] = None,
    finding_status: Annotated[
        str | None, Query(alias="status", pattern="^(open|in_review|resolved)$")
    ] = None,
    who: Principal = REGIONAL,
) -> Any:
    """Findings in the caller's scope, newest first, filtered by station, département, code."""
    flt = status.FindingFilter(station_id, departement, code, finding_status)
    total, rows = await run_in_threadpool(
        status.findings, engine_of(request), who, flt, page.limit, page.offset
    )
    items = [FindingOut.model_validate(r, from_attributes=True) for r in rows]
    return FindingPage(total=total, limit=page.limit, offset=page.offset, items=items)
