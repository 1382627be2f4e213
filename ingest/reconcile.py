"""Reconciliation at the centre: run the rules on a station, keep its findings current.

Two checks, each with its own findings (``evidence.stage``):

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
  batches, rejections, close note and PV state.

A check replaces the station's earlier findings of its stage: a finding that
is raised again keeps its row (and its review), one that no longer holds is
removed while nobody has started reviewing it, a new one is added; an error
also gets a ``finding`` review item, since it needs a person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.assembly import CLOSE_KINDS, stored_events
from ingest.db import FindingRow, InkStroke, PvResult, Rejection, ReviewItem, StoredBatch
from ingest.geo import departement_of
from ingest.kits import station_pages, station_pens
from ingest.settings import Settings
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

log = structlog.get_logger(__name__)

STAGE = "reconciliation"
"""``evidence.stage`` of the PV's findings."""
TRANSMISSION_STAGE = "transmission"
"""``evidence.stage`` of the transmission's findings."""
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


def pv_timeline(s: Session, settings: Settings, station_id: str, layout: FormLayout) -> PvTimeline:
    """The station's PV ink by field, with the pens and pages of its kit."""
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
    ctx = StationContext(
        pen_serials=station_pens(s, station_id),
        closing_ms=settings.poll_closing_ms,
        pages=station_pages(s, station_id, "pv"),
    )
    return PvTimeline({k: Ink.of(v) for k, v in fields.items()}, ctx, layout)


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
