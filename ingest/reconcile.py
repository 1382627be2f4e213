"""Reconciliation of a PV at the centre: run the rules, keep their findings current.

Called by digitisation once every count of a station's PV has been read (and
again whenever a reading changes): counts still waiting for review are None,
so the arithmetic rules that need them are skipped (W.010) while the
timeline rules judge the ink at once. The rules are
:func:`reconciliation.check_pv` on the values and the PV's stroke timeline,
with what the kits say (pens and pages issued, poll closing time). The
station's previous reconciliation findings are replaced: a finding that is
raised again keeps its row (and its review), one that no longer holds is
removed while nobody has started reviewing it, a new one is added; an error
also gets a ``finding`` review item, since it needs a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.db import FindingRow, InkStroke, ReviewItem
from ingest.geo import departement_of
from ingest.kits import station_pages, station_pens
from ingest.settings import Settings
from pen.forms import FormLayout
from pen.ink import Ink, Stroke
from pen.page import PageAddress
from reconciliation import (
    Finding,
    PvCounts,
    PvTimeline,
    ReconciliationError,
    Severity,
    StationContext,
    check_pv,
)

log = structlog.get_logger(__name__)

STAGE = "reconciliation"
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
    old = [
        r
        for r in s.scalars(select(FindingRow).where(FindingRow.station_id == station_id))
        if r.evidence.get("stage") == STAGE
    ]
    by_key = {(r.code, tuple(r.fields)): r for r in old}
    kept: list[FindingRow] = []
    for f in findings:
        row = by_key.pop((f.code, tuple(f.fields)), None)
        evidence = {**_json(f.evidence), "stage": STAGE}
        if row is not None:
            if row.status == "open":
                row.message, row.evidence = f.message, evidence
            kept.append(row)
            continue
        kept.append(_add(s, f, evidence, at_ms))
    for row in by_key.values():  # no longer raised
        _drop(s, row)
    log.info("reconciliation.done", station_id=station_id, findings=len(findings))
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
