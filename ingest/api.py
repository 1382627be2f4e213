"""The HTTP routes of ingest: health, readiness, ``/v1`` enrolment and batch upload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from ingest import stations
from ingest.access import PUBLIC, STATION
from ingest.errors import error_body, error_response
from ingest.observability import database_answers, record_batch

StationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class EnrolRequest(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="one-time code from the kit")
    public_key: str = Field(max_length=64, description="raw Ed25519 public key, base64")


class EnrolResponse(BaseModel):
    station_id: str
    public_key: str
    enrolled_at_ms: int


class BatchAck(BaseModel):
    station_id: str
    seq: int
    hash: str
    status: str = Field(description="accepted (stored now) or duplicate (stored before)")
    head_seq: int


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


health = APIRouter(tags=["health"])


@health.get("/health", dependencies=[PUBLIC])
def get_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@health.get("/ready", dependencies=[PUBLIC], responses={503: {"description": "not ready"}})
async def get_ready(request: Request) -> Any:
    """The database answers."""
    if not await database_answers(request):
        body = error_body("HTTP.503", "the database does not answer; retry later")
        return JSONResponse(body, status_code=503)
    return {"status": "ready"}


v1 = APIRouter(prefix="/v1", tags=["stations"])


@v1.post(
    "/stations/{station_id}/enrol",
    dependencies=[STATION],
    response_model=EnrolResponse,
    status_code=201,
    responses={200: {"model": EnrolResponse, "description": "already enrolled with this key"}},
)
def post_enrol(request: Request, station_id: StationId, body: EnrolRequest) -> Any:
    """Register the station's public key with its one-time kit code (docs/station-protocol.md)."""
    done = stations.enrol(_engine(request), station_id, body.code, body.public_key)
    out = EnrolResponse(
        station_id=done.station_id,
        public_key=body.public_key,
        enrolled_at_ms=done.enrolled_at_ms,
    )
    return JSONResponse(out.model_dump(), status_code=201 if done.created else 200)


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "a signed batch, format v1 (docs/station-protocol.md)",
    }
}


async def _read_body(
    chunks: AsyncIterator[bytes],
    declared: str | None,
    limit: int,
    what: str = "the batch is",
    hint: str = "send smaller batches",
) -> bytes:
    """The body, refused past ``limit`` bytes before more is read (the refusal keeps no body)."""
    too_large = stations.Refused(413, "HTTP.413", "too_large", f"{what} over {limit} bytes; {hint}")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
    return b"".join(parts)


async def answer_batch(
    app: Any, scope: Scope, station_id: str, chunks: AsyncIterator[bytes], declared: str | None
) -> JSONResponse:
    """Read, verify (format, signature, chain) and store one batch, or store its refusal.

    The whole of ``POST /v1/stations/{station_id}/batches`` once the station id is
    valid: ``chunks`` is the request body, ``declared`` its Content-Length. Both the
    documented route (:func:`post_batch`) and the lean path
    (:mod:`ingest.batch_route`) answer with this.
    """
    engine: Engine = app.state.engine
    body = b""
    try:
        body = await _read_body(chunks, declared, app.state.settings.max_batch_bytes)
        ack = await stations.receive_batch_async(engine, station_id, body)
    except stations.Refused as refused:
        await run_in_threadpool(stations.store_rejection, engine, station_id, body, refused)
        record_batch(app, "rejected", reason=refused.reason)
        return error_response(scope, refused)
    accepted = ack.status == "accepted"
    if accepted:
        record_batch(app, "accepted", events=ack.events, raw_bytes=len(body))
    else:
        record_batch(app, "duplicate")
    out = {
        "station_id": ack.station_id,
        "seq": ack.seq,
        "hash": ack.hash,
        "status": ack.status,
        "head_seq": ack.head_seq,
    }  # BatchAck's fields, in its order
    return JSONResponse(out, status_code=201 if accepted else 200)


async def read_body(request: Request, limit: int, what: str, hint: str) -> bytes:
    """A request's body, refused (HTTP.413) past ``limit`` bytes, for uploads other than batches."""
    declared = request.headers.get("content-length")
    return await _read_body(request.stream(), declared, limit, what, hint)


BATCHES_PATH = "/v1/stations/{station_id}/batches"


@v1.post(
    "/stations/{station_id}/batches",
    dependencies=[STATION],
    response_model=BatchAck,
    status_code=201,
    openapi_extra=_BATCH_BODY,
    responses={200: {"model": BatchAck, "description": "duplicate: stored before"}},
)
async def post_batch(request: Request, station_id: StationId) -> Any:
    """Verify (format, signature, chain) and store one batch; refusals are stored too."""
    declared = request.headers.get("content-length")
    return await answer_batch(request.app, request.scope, station_id, request.stream(), declared)
