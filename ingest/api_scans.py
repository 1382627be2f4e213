"""Scanned paper PV routes: upload a scan, see the current one, fetch a field's crop.

Upload is for the high authority and the federation of the station's
département (a département is public: another département's station is a
403, decided on the id before anything is looked up); reading the stored
scan and its crops is for every role that sees the station (404 outside the
scope, as for every station route). The work is :mod:`ingest.scans`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ingest import scans
from ingest.access import require
from ingest.api import StationId, read_body
from ingest.auth import Principal
from ingest.db import session
from ingest.errors import ApiError
from ingest.geo import departement_of
from ingest.reconcile import current_scan
from ingest.scope import not_found, station_in_scope

UPLOADERS = require("high_authority", "federation")
VIEWERS = require("high_authority", "federation", "station", "reviewer", "coordinator")
FieldId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in scans.CONTENT_TYPES
        },
        "description": "the scanned paper PV as the scanner wrote it (PNG or JPEG)",
    }
}


class ScanFieldOut(BaseModel):
    field_id: str
    value: str | None = Field(description="digits read; null: the boxes read empty")
    confidence: float
    alternatives: list[Any] = Field(description="[[text, p], ...], best first")
    flags: list[str] = Field(description="scribble, crossed_out")
    crop_url: str = Field(description="the field's image on the scan (PNG)")


class ScanFindingOut(BaseModel):
    id: int
    code: str = Field(description="F.301 (paper differs) or W.302 (differs, unsure)")
    severity: str
    fields: list[Any]
    message: str
    status: str


class ScanOut(BaseModel):
    scan_id: int
    station_id: str
    sha256: str
    size: int
    content_type: str
    received_at_ms: int
    status: str = Field(
        description="accepted (stored now), duplicate (these bytes before), current"
    )
    outcome: str = Field(description="read, or warning (read; see warnings)")
    warnings: list[dict[str, str]] = Field(description="OCR.403: the printed station id unread")
    station_id_read: dict[str, Any]
    registration: str | None = Field(description="marks, or features when marks were damaged")
    fields: list[ScanFieldOut]
    findings: list[ScanFindingOut] = Field(description="the station's pen-against-paper findings")


def _out(v: scans.ScanView) -> ScanOut:
    return ScanOut.model_validate(
        {
            **v.__dict__,
            "fields": [f.__dict__ for f in v.fields],
        }
    )


router = APIRouter(prefix="/v1", tags=["scanned minutes"])


@router.post(
    "/stations/{station_id}/pv-scan",
    response_model=ScanOut,
    status_code=201,
    openapi_extra=_IMAGE_BODY,
    responses={200: {"model": ScanOut, "description": "duplicate: these bytes stored before"}},
)
async def post_scan(request: Request, station_id: StationId, who: Principal = UPLOADERS) -> Any:
    """Store and read a scanned paper PV; refusals (OCR.401/402/404, SCAN.415) are stored too."""
    if who.departement is not None and departement_of(station_id) != who.departement:
        raise ApiError(
            403,
            "AUTH.403",
            f"station {station_id} is outside your département ({who.departement}); "
            "its federation or the high authority uploads its scan",
        )
    settings = request.app.state.settings
    body = await read_body(
        request, settings.max_scan_bytes, "the scan is", "scan at 200-300 dpi, grayscale, JPEG"
    )
    view = await run_in_threadpool(
        scans.receive_scan,
        request.app.state.engine,
        settings,
        station_id,
        body,
        request.headers.get("content-type"),
        who.actor,
    )
    out = _out(view)
    return JSONResponse(out.model_dump(), status_code=201 if view.status == "accepted" else 200)


def _current(request: Request, station_id: str) -> scans.ScanView:
    with session(request.app.state.engine) as s:
        row = current_scan(s, station_id)
        if row is None:
            raise not_found("scanned PV of station", station_id)
        return scans.view_of(s, row, "current")


@router.get("/stations/{station_id}/pv-scan", response_model=ScanOut)
async def get_scan(request: Request, station_id: StationId, who: Principal = VIEWERS) -> ScanOut:
    """The station's current scan (the newest that was read): readings, crops, findings."""
    station_in_scope(who, station_id)
    return _out(await run_in_threadpool(_current, request, station_id))


@router.get(
    "/stations/{station_id}/pv-scan/crops/{field_id}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the field's crop, PNG"}},
)
async def get_crop(
    request: Request,
    station_id: StationId,
    field_id: FieldId,
    scan: Annotated[
        int | None, Query(ge=1, le=2**62, description="a scan id; default current")
    ] = None,
    who: Principal = VIEWERS,
) -> Response:
    """A count field's image on the scanned PV (of scan ``scan``, else the current scan)."""
    station_in_scope(who, station_id)
    png = await run_in_threadpool(scans.crop, request.app.state.engine, station_id, field_id, scan)
    if png is None:
        raise not_found("scanned field", f"{field_id} of station {station_id}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private"})
