"""Reconciliation at the centre: run the rules on a station, keep its findings current.

Three checks, each with its own findings (``evidence.stage``):

- the PV (:func:`store_findings`), called by digitisation once every count of
  a station's PV has been read (and again whenever a reading changes, review
  included): counts still waiting for review are None, so the arithmetic
  rules that need them are skipped (W.010) while the timeline rules judge the
  ink at once. :func:`reconciliation.check_pv` runs on the values and the
  PV's stroke timeline, with what the kits say (pens and pages issued, poll
  closing time);
- the transmission (:func:`store_transmission_findings`), called by the
  pipeline when a station closes, when a batch of it is rejected and at the
  results deadline: :func:`reconciliation.check_transmission` on its stored
  batches, rejections, close note and PV state;
- pen against paper (:func:`store_paper_findings`, stage ``paper``), called
  when a scanned PV's readings are stored (:mod:`ingest.scans`), after every
  PV check (more ink, a new reading) and when review decides a PV value:
  :func:`reconciliation.check_pv` with ``paper=`` the current scan's count
  fields, keeping its F.301/W.302 findings. Without a scan or a PV it
  leaves no paper finding.

A check replaces the station's earlier findings of its stage: a finding that
is raised again keeps its row (and its review), one that no longer holds is
removed while nobody has started reviewing it, a new one is added; an error
also gets a ``finding`` review item, since it needs a person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.assembly import CLOSE_KINDS, stored_events
from ingest.db import (
    FindingRow,
    InkStroke,
    PvResult,
    PvScan,
    PvScanField,
    Rejection,
    ReviewItem,
    StoredBatch,
)
from ingest.geo import departement_of
from ingest.kits import station_pages, station_pens
from ingest.settings import Settings
from ocr import OcrError, read_pen_ink
from pen.forms import FormLayout
from pen.ink import Ink, Stroke
from pen.page import PageAddress
from reconciliation import (
    Finding,
    PvCounts,
    PvState,
    PvTimeline,
    ReceivedBatch,
    ReconciliationError,
    RejectedBatch,
    Severity,
    StationContext,
    Transmission,
    check_pv,
    check_transmission,
)
from reconciliation.paper import PaperReading

log = structlog.get_logger(__name__)

STAGE = "reconciliation"
"""``evidence.stage`` of the PV's findings."""
TRANSMISSION_STAGE = "transmission"
"""``evidence.stage`` of the transmission's findings."""
PAPER_STAGE = "paper"
"""``evidence.stage`` of the pen-against-paper findings."""
PAPER_CODES = frozenset({"F.301", "W.302"})
"""The findings of the paper rule (:mod:`reconciliation.paper`)."""
_HHMM = re.compile(r"\d{4}")


def pv_counts(values: Mapping[str, int | None], closing_time: str | None) -> PvCounts:
    """Reconciliation's view of the PV values (``candidate_1`` .. ``candidate_n`` in order)."""
    n = sum(1 for k in values if k.startswith("candidate_"))
    return PvCounts(
        signatures=values.get("signatures"),
        ballots=values.get("ballots"),
        blank=values.get("blank"),
        spoiled=values.get("spoiled"),
        valid=values.get("valid"),
        candidates=tuple(values.get(f"candidate_{i}") for i in range(1, n + 1)),
        contributions=values.get("contributions"),
        closing_time=closing_time if closing_time and _HHMM.fullmatch(closing_time) else None,
    )


def pv_ink(s: Session, station_id: str) -> dict[str, Ink]:
    """The station's PV ink by field (ink on a sheet that is not the station's left out)."""
    rows = s.scalars(
        select(InkStroke)
        .where(InkStroke.station_id == station_id, InkStroke.form == "pv")
        .order_by(InkStroke.id)
    ).all()
    fields: dict[str, list[Stroke]] = {}
    for r in rows:
        if r.field_id is None or "foreign_page" in r.flags.split(","):
            continue
        pts = np.frombuffer(r.points, dtype="<f8").reshape(-1, 4)
        stroke = Stroke(pts, r.pen_serial, PageAddress.parse(r.page))
        fields.setdefault(r.field_id, []).append(stroke)
    return {k: Ink.of(v) for k, v in fields.items()}


def pv_timeline(s: Session, settings: Settings, station_id: str, layout: FormLayout) -> PvTimeline:
    """The station's PV ink by field, with the pens and pages of its kit."""
    ctx = StationContext(
        pen_serials=station_pens(s, station_id),
        closing_ms=settings.poll_closing_ms,
        pages=station_pages(s, station_id, "pv"),
    )
    return PvTimeline(pv_ink(s, station_id), ctx, layout)


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def store_findings(
    s: Session,
    settings: Settings,
    station_id: str,
    values: Mapping[str, int | None],
    closing_time: str | None,
    layout: FormLayout,
    at_ms: int,
) -> list[FindingRow]:
    """Run the rules on a read PV and bring the station's stored findings up to date."""
    try:
        findings = check_pv(
            pv_counts(values, closing_time),
            station_id=station_id,
            timeline=pv_timeline(s, settings, station_id, layout),
        )
    except ReconciliationError as exc:
        log.error("reconciliation.failed", station_id=station_id, code=exc.code)
        return []
    kept = replace_findings(s, station_id, STAGE, findings, at_ms)
    log.info("reconciliation.done", station_id=station_id, findings=len(findings))
    store_paper_findings(s, station_id, at_ms, layout)  # the pen's values may have changed
    deadline = settings.results_deadline_ms
    if deadline is not None and at_ms >= deadline:  # a late PV clears F.410/F.411
        store_transmission_findings(s, settings, station_id, at_ms)
    return kept


def replace_findings(
    s: Session, station_id: str, stage: str, findings: Sequence[Finding], at_ms: int
) -> list[FindingRow]:
    """Bring the station's stored findings of ``stage`` up to ``findings`` (see module doc)."""
    old = [
        r
        for r in s.scalars(select(FindingRow).where(FindingRow.station_id == station_id))
        if r.evidence.get("stage") == stage
    ]
    by_key = {(r.code, tuple(r.fields)): r for r in old}
    kept: list[FindingRow] = []
    for f in findings:
        row = by_key.pop((f.code, tuple(f.fields)), None)
        evidence = {**_json(f.evidence), "stage": stage}
        if row is not None:
            if row.status == "open":
                row.message, row.evidence = f.message, evidence
            kept.append(row)
            continue
        kept.append(_add(s, f, evidence, at_ms))
    for row in by_key.values():  # no longer raised
        _drop(s, row)
    return kept


def current_scan(s: Session, station_id: str) -> PvScan | None:
    """The station's newest scanned PV that was read (a refused scan is never current)."""
    return s.scalars(
        select(PvScan)
        .where(PvScan.station_id == station_id, PvScan.outcome != "rejected")
        .order_by(PvScan.id.desc())
        .limit(1)
    ).first()


def crop_url(station_id: str, field_id: str, scan_id: int) -> str:
    """Where the API serves a field's crop of one scan."""
    return f"/v1/stations/{station_id}/pv-scan/crops/{field_id}?scan={scan_id}"


def paper_readings(s: Session, scan: PvScan) -> dict[str, PaperReading]:
    """Reconciliation's view of a scan's count fields (an empty box reads as None)."""
    rows = s.scalars(select(PvScanField).where(PvScanField.scan_id == scan.id)).all()
    return {
        r.field_id: PaperReading(
            value=r.value or None,
            confidence=min(1.0, max(0.0, r.confidence)),
            crop=crop_url(scan.station_id, r.field_id, scan.id),
            alternatives=tuple((str(t), min(1.0, max(0.0, float(p)))) for t, p in r.alternatives),
        )
        for r in rows
    }


def store_paper_findings(
    s: Session, station_id: str, at_ms: int, layout: FormLayout | None = None
) -> list[FindingRow]:
    """Compare the PV's pen values with its current scan; store F.301/W.302 (stage ``paper``).

    With the PV ``layout``, each count's pen ink is also drawn as on paper and read by the
    scan reader (``ocr.read_pen_ink``), so that a paper which reads as the pen's own ink
    (a writer whose 1 the reader takes for a 7 on paper and in ink alike) goes to review
    (W.302) rather than to F.301 (reconciliation.paper).
    """
    scan = current_scan(s, station_id)
    pv = s.get(PvResult, station_id)
    findings: list[Finding] = []
    if scan is not None and pv is not None:
        paper = {k: v for k, v in paper_readings(s, scan).items() if k in pv.values}
        ink = pv_ink(s, station_id)
        if layout is not None:
            as_ink = pen_ink_readings(ink, layout, paper)
            paper = {k: replace(v, pen_ink=as_ink.get(k)) for k, v in paper.items()}
        try:
            everything = check_pv(
                pv_counts(pv.values, None),
                station_id=station_id,
                timeline=PvTimeline(ink),  # dates the last ink
                paper=paper,
            )
        except ReconciliationError as exc:
            log.error("paper.failed", station_id=station_id, code=exc.code)
            return []
        findings = [f for f in everything if f.code in PAPER_CODES]
    kept = replace_findings(s, station_id, PAPER_STAGE, findings, at_ms)
    if scan is not None:
        log.info("paper.done", station_id=station_id, scan_id=scan.id, findings=len(findings))
    return kept


def pen_ink_readings(
    ink: Mapping[str, Ink], layout: FormLayout, fields: Iterable[str]
) -> dict[str, str]:
    """What the scan reader reads in the pen's own ink of each of ``fields`` (count fields
    with ink), drawn as on paper."""
    wanted = set(fields)
    out: dict[str, str] = {}
    for f in layout.fields:
        if f.kind != "count" or f.id not in wanted or f.id not in ink:
            continue
        strokes = [st.points for st in ink[f.id]]
        try:
            out[f.id] = read_pen_ink(strokes, [b.rect for b in f.boxes]).text
        except OcrError as exc:  # ink the reader cannot draw: the rule goes without it
            log.warning("paper.pen_ink_failed", field=f.id, code=exc.code)
    return out


def _closed(s: Session, station_id: str) -> tuple[int | None, int | None]:
    """(when, batch seq) of the station's last ``StationClosed`` note; (None, None) if none.

    Reads stored bodies from the newest back, so a closed station costs a batch or two.
    """
    bodies = s.execute(
        select(StoredBatch.seq, StoredBatch.body)
        .where(StoredBatch.station_id == station_id)
        .order_by(StoredBatch.seq.desc())
        .execution_options(yield_per=16)
    )
    for seq, body in bodies:
        closes = [
            summary
            for _, summary in stored_events(body)
            if summary.get("source") == "agent" and summary.get("kind") in CLOSE_KINDS
        ]
        if closes:
            return _closed_at(closes[-1]), seq
    return None, None


def _closed_at(summary: Mapping[str, Any]) -> int | None:
    """The note's ``closed_at_ms`` (its detail, a JSON text), else when it was journaled."""
    try:
        detail = json.loads(str(summary.get("detail") or "{}"))
    except ValueError:
        detail = {}
    at = detail.get("closed_at_ms") if isinstance(detail, dict) else None
    at = at if isinstance(at, int) else summary.get("recorded_ms")
    return at if isinstance(at, int) else 0


def transmission(s: Session, settings: Settings, station_id: str, at_ms: int) -> Transmission:
    """Reconciliation's view of what the station sent, what was refused, and its PV, now."""
    batches = tuple(
        ReceivedBatch(seq, h, prev, received)
        for seq, h, prev, received in s.execute(
            select(
                StoredBatch.seq, StoredBatch.hash, StoredBatch.prev_hash, StoredBatch.received_at_ms
            ).where(StoredBatch.station_id == station_id)
        )
    )
    rejections = tuple(
        RejectedBatch(reason, seq, received)
        for reason, seq, received in s.execute(
            select(Rejection.reason, Rejection.seq, Rejection.received_at_ms).where(
                Rejection.station_id == station_id
            )
        )
    )
    closed_ms, closed_seq = _closed(s, station_id)
    pv = s.get(PvResult, station_id)
    state = PvState.NONE if pv is None else PvState.COMPLETE if pv.complete else PvState.INCOMPLETE
    missing = () if pv is None else tuple(k for k, v in pv.values.items() if v is None)
    return Transmission(
        batches,
        rejections,
        closed_ms=closed_ms,
        closed_seq=closed_seq,
        pv=state,
        pv_missing=missing if state is PvState.INCOMPLETE else (),
        deadline_ms=settings.results_deadline_ms,
        at_ms=at_ms,
    )


def store_transmission_findings(
    s: Session, settings: Settings, station_id: str, at_ms: int
) -> list[FindingRow]:
    """Run the chain and transmission rules on a station and store their findings."""
    try:
        findings = check_transmission(
            transmission(s, settings, station_id, at_ms), station_id=station_id
        )
    except ReconciliationError as exc:
        log.error("transmission.failed", station_id=station_id, code=exc.code)
        return []
    kept = replace_findings(s, station_id, TRANSMISSION_STAGE, findings, at_ms)
    log.info("transmission.done", station_id=station_id, findings=len(findings))
    return kept


def _add(s: Session, f: Finding, evidence: dict[str, Any], at_ms: int) -> FindingRow:
    row = FindingRow(
        station_id=f.station_id,
        departement=departement_of(f.station_id),
        code=f.code,
        severity=f.severity.value,
        message=f.message,
        fields=list(f.fields),
        evidence=evidence,
        status="open",
        created_ms=at_ms,
    )
    s.add(row)
    s.flush()
    if f.severity is Severity.ERROR:
        s.add(
            ReviewItem(
                kind="finding",
                ref_id=row.id,
                version=0,
                station_id=row.station_id,
                departement=row.departement,
                proposal=None,
                created_ms=at_ms,
            )
        )
    return row


def _drop(s: Session, row: FindingRow) -> None:
    """Remove a finding that no longer holds, unless people have started on it."""
    if row.status != "open":
        return
    items = s.scalars(
        select(ReviewItem).where(ReviewItem.kind == "finding", ReviewItem.ref_id == row.id)
    ).all()
    if any(i.state != "waiting" for i in items):
        return
    for i in items:
        s.delete(i)
    s.delete(row)
