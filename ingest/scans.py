"""Scanned paper PVs at the centre: store the image, read it, compare it with the pen.

:func:`receive_scan` is the one path of an uploaded scan (``POST
/v1/stations/{id}/pv-scan``, docs/api.md): the raw image is kept as sent,
immutable, with its SHA-256, size, content type, uploader and arrival time
(:class:`~ingest.db.PvScan`); the same bytes for the same station again are
the same scan, answered from what was stored. The image is read with
:func:`ocr.read_page` against the PV layout, expecting the station of the URL,
outside any transaction (about half a second a page), then everything is
stored in one transaction with its audit entry:

- read: each count field's value, confidence, alternatives, flags and crop
  (PNG) in :class:`~ingest.db.PvScanField`, then the paper check
  (:func:`ingest.reconcile.store_paper_findings`);
- read, but the printed station id cannot be read (OCR.403): the same, with
  the warning stored and answered;
- refused, stored as a rejected scan with its code and evidence, and raised
  as :class:`ScanRefused`: not PNG/JPEG (SCAN.415), not an image (OCR.401),
  not this form (OCR.402), another station's sheet (OCR.404, with the id read
  and the id expected). A refused scan's readings are not kept.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest import audit
from ingest.db import FindingRow, PvScan, PvScanField, Station, session
from ingest.errors import ApiError
from ingest.geo import departement_of
from ingest.layouts import layouts
from ingest.reconcile import PAPER_STAGE, crop_url, current_scan, store_paper_findings
from ingest.scope import not_found
from ingest.settings import Settings
from ocr import OcrError, ScannedPage, StationIdMismatch, StationIdUnreadable, read_page

log = structlog.get_logger(__name__)

CONTENT_TYPES = ("image/png", "image/jpeg")
_STATUS = {"SCAN.415": 415}
"""HTTP status of a refusal by code; any other refusal is 422."""


class ScanRefused(ApiError):
    """A refused scan (stored): its code, a sentence saying what to do, the evidence."""


@dataclass(frozen=True)
class ScanFieldView:
    field_id: str
    value: str | None
    confidence: float
    alternatives: list[list[Any]]
    flags: list[str]
    crop_url: str


@dataclass(frozen=True)
class ScanView:
    """What the centre made of a scan (``status``: accepted now, or duplicate of before)."""

    scan_id: int
    station_id: str
    sha256: str
    size: int
    content_type: str
    received_at_ms: int
    status: str
    outcome: str
    warnings: list[dict[str, str]]
    station_id_read: dict[str, Any]
    registration: str | None
    fields: list[ScanFieldView]
    findings: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Read:
    """The outcome of reading an image, before it is stored."""

    outcome: str
    code: str | None = None
    message: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    fields: Sequence[PvScanField] = ()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def media_type(content_type: str | None) -> str:
    """``image/png; x=y`` -> ``image/png``; empty when none was sent."""
    return (content_type or "").split(";")[0].strip().lower()


def _refused(code: str, message: str, detail: dict[str, Any] | None = None) -> _Read:
    return _Read("rejected", code, message, detail or {})


def _png(crop: np.ndarray[Any, Any]) -> bytes:
    ok, buf = cv2.imencode(".png", crop)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("OpenCV could not encode a crop as PNG")
    return bytes(buf.tobytes())


def _fields(page: ScannedPage) -> list[PvScanField]:
    return [
        PvScanField(
            field_id=fid,
            value=f.reading.text or None,
            confidence=float(f.reading.confidence),
            alternatives=[[t, float(p)] for t, p in f.reading.alternatives],
            flags=",".join(f.reading.flags),
            crop_png=_png(f.crop),
        )
        for fid, f in sorted(page.fields.items())
    ]


def read_image(body: bytes, kind: str, station_id: str, settings: Settings) -> _Read:
    """Decode and read a scan of the station's PV; never raises on a bad image."""
    if kind not in CONTENT_TYPES:
        return _refused(
            "SCAN.415",
            f"a scan is sent as image/png or image/jpeg, not {kind or 'no content type'}; "
            "send the file the scanner wrote with its type",
            {"content_type": kind},
        )
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_GRAYSCALE) if body else None
    if image is None:
        return _refused(
            "OCR.401",
            f"these {len(body)} bytes are not a PNG or JPEG image; send the scanner's file",
        )
    try:
        page = read_page(image, layouts(settings.pv_candidates).pv, expected_station=station_id)
    except OcrError as exc:
        return _refused(exc.code, exc.message)
    sid = page.station_id
    detail: dict[str, Any] = {
        "station_id_read": {
            "text": sid.text,
            "method": sid.method,
            "confidence": float(sid.confidence),
            "expected": station_id,
        },
        "registration": page.registration.method,
    }
    problem = sid.problem
    if isinstance(problem, StationIdMismatch):
        detail.update(read=problem.read, expected=problem.expected)
        return _Read("rejected", problem.code, problem.message, detail)
    fields = _fields(page)
    if isinstance(problem, StationIdUnreadable):
        return _Read("warning", problem.code, problem.message, detail, fields)
    return _Read("read", None, None, detail, fields)


def _existing(s: Session, station_id: str, sha: str) -> PvScan | None:
    return s.scalars(
        select(PvScan).where(PvScan.station_id == station_id, PvScan.sha256 == sha)
    ).first()


def _paper_findings(s: Session, station_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(FindingRow).where(FindingRow.station_id == station_id).order_by(FindingRow.id)
    )
    return [
        {
            "id": r.id,
            "code": r.code,
            "severity": r.severity,
            "fields": list(r.fields),
            "message": r.message,
            "status": r.status,
        }
        for r in rows
        if r.evidence.get("stage") == PAPER_STAGE
    ]


def view_of(s: Session, row: PvScan, status: str) -> ScanView:
    """The stored scan as the API answers it; raises :class:`ScanRefused` for a refused one."""
    if row.outcome == "rejected":
        code = row.code or "OCR.400"
        details = {**row.detail, "scan_id": row.id, "sha256": row.sha256, "status": status}
        raise ScanRefused(_STATUS.get(code, 422), code, row.message or "refused", details)
    rows = s.scalars(
        select(PvScanField).where(PvScanField.scan_id == row.id).order_by(PvScanField.field_id)
    ).all()
    warnings = [{"code": row.code, "message": row.message or ""}] if row.code else []
    return ScanView(
        scan_id=row.id,
        station_id=row.station_id,
        sha256=row.sha256,
        size=row.size,
        content_type=row.content_type,
        received_at_ms=row.received_at_ms,
        status=status,
        outcome=row.outcome,
        warnings=warnings,
        station_id_read=dict(row.detail.get("station_id_read") or {}),
        registration=row.detail.get("registration"),
        fields=[
            ScanFieldView(
                field_id=f.field_id,
                value=f.value,
                confidence=f.confidence,
                alternatives=list(f.alternatives),
                flags=[x for x in f.flags.split(",") if x],
                crop_url=crop_url(row.station_id, f.field_id, row.id),
            )
            for f in rows
        ],
        findings=_paper_findings(s, row.station_id),
    )


def _known(s: Session, station_id: str) -> None:
    if s.get(Station, station_id) is None:
        raise not_found("station", station_id)


def receive_scan(
    engine: Engine,
    settings: Settings,
    station_id: str,
    body: bytes,
    content_type: str | None,
    actor: str,
) -> ScanView:
    """Store, read and reconcile one scan of ``station_id``'s paper PV (see module doc)."""
    sha = hashlib.sha256(body).hexdigest()
    with session(engine) as s:
        _known(s, station_id)
        before = _existing(s, station_id, sha)
        if before is not None:
            return view_of(s, before, "duplicate")
    kind = media_type(content_type)
    done = read_image(body, kind, station_id, settings)
    at = _now_ms()
    try:
        with session(engine) as s, s.begin():
            row = PvScan(
                station_id=station_id,
                departement=departement_of(station_id),
                sha256=sha,
                size=len(body),
                content_type=kind[:32],
                image=body,
                uploaded_by=actor[:80],
                received_at_ms=at,
                outcome=done.outcome,
                code=done.code,
                message=done.message,
                detail=done.detail,
            )
            s.add(row)
            s.flush()
            for f in done.fields:
                f.scan_id = row.id
                s.add(f)
            s.flush()
            audit.append(
                s,
                actor,
                "scan.upload",
                f"station:{station_id}",
                {"scan_id": row.id, "sha256": sha, "outcome": done.outcome, "code": done.code},
            )
            if done.outcome != "rejected":
                store_paper_findings(s, station_id, at, layouts(settings.pv_candidates).pv)
    except IntegrityError:  # the same bytes stored meanwhile by a concurrent upload
        with session(engine) as s:
            again = _existing(s, station_id, sha)
            if again is None:
                raise
            return view_of(s, again, "duplicate")
    log.info("scan.stored", station_id=station_id, scan_id=row.id, outcome=done.outcome)
    with session(engine) as s:
        return view_of(s, row, "accepted")


def crop(engine: Engine, station_id: str, field_id: str, scan_id: int | None) -> bytes | None:
    """A field's crop (PNG) from one scan of the station, or from its current scan."""
    with session(engine) as s:
        scan = s.get(PvScan, scan_id) if scan_id is not None else current_scan(s, station_id)
        if scan is None or scan.station_id != station_id or scan.outcome == "rejected":
            return None
        return s.scalar(
            select(PvScanField.crop_png).where(
                PvScanField.scan_id == scan.id, PvScanField.field_id == field_id
            )
        )
