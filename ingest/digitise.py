"""Digitisation: read one ready field with ``ocr.read`` and store what it means.

:func:`digitise_field` is the one task the workers run (locally or on Celery):
it loads the field's ink from the database, reads it, and in one transaction
stores the :class:`~ingest.db.Reading` and updates what depends on it:

- a PV field: the station's :class:`~ingest.db.PvResult` (a value per count
  field, ``None`` while the reading is below ``Settings.review_threshold`` and
  no review has decided it), a ``reading`` review item for a doubtful value,
  and, once every count has a value, reconciliation's findings;
- a contact field: the page's :class:`~ingest.db.Contact`, each value
  encrypted apart (:class:`~ingest.crypto.ContactCipher`); the reading keeps
  only its confidence (``text`` ``None``, no alternatives) and a review item
  carries no proposal. Nothing personal is logged or raised.

Recognition never crashes the task: an unsupported kind or an ocr error is
a reading of confidence 0, which goes to review.

Comb fields are read one character per box (the cell's kind), except
``count`` fields, read whole (the writer may ignore the boxes).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import ocr
from ingest.crypto import ContactCipher
from ingest.db import (
    Contact,
    FieldInk,
    InkStroke,
    PvResult,
    Reading,
    ReviewItem,
    Station,
    session,
)
from ingest.geo import departement_of
from ingest.layouts import layouts
from ingest.reconcile import store_findings
from ingest.settings import Settings
from pen.forms import Field, FormLayout, hit_test
from pen.ink import Stroke
from pen.page import PageAddress

log = structlog.get_logger(__name__)

ENGINE = "plume"
#: Field kinds nobody reads: the ink is kept for the timeline rules only.
NOT_READ = frozenset({"signature", "free_text"})
#: Checkbox readings that mean "not ticked".
UNTICKED = frozenset({"", "0", "no", "false"})
_ALTERNATIVES = 5


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class FieldReading:
    """What recognition made of one field (never raised: failures read with confidence 0)."""

    text: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    error: str = ""
    """The ocr error's class when recognition failed (no message: it could quote ink)."""


def _failed(exc: Exception) -> FieldReading:
    return FieldReading("", 0.0, (), type(exc).__name__)


def _read_one(strokes: Sequence[np.ndarray], kind: str) -> FieldReading:
    try:
        r = ocr.read(list(strokes), kind)
    except Exception as exc:  # any recogniser failure is a reading for people
        return _failed(exc)
    alts = tuple((str(t), float(c)) for t, c in r.alternatives)
    return FieldReading(str(r.text), float(r.confidence), alts)


def read_field(field: Field, layout: FormLayout, strokes: Sequence[Stroke]) -> FieldReading:
    """Read a field's strokes: whole for ``count`` and single boxes, one character per comb box."""
    xyt = [s.xyt() for s in strokes]
    if field.kind == "count" or not field.is_comb:
        return _read_one(xyt, field.kind)
    cells: dict[int, list[np.ndarray]] = {}
    kinds = {b.id: (i, b.kind) for i, b in enumerate(field.boxes)}
    for s, a in zip(strokes, xyt, strict=True):
        box = hit_test(s, layout).box_id
        where = kinds.get(box or "")
        index = where[0] if where else 0
        cells.setdefault(index, []).append(a)
    parts = [_read_one(cells[i], field.boxes[i].kind) for i in sorted(cells)]
    failed = next((p for p in parts if p.error), None)
    if failed is not None:
        return FieldReading("", 0.0, (), failed.error)
    text = "".join(p.text for p in parts)
    confidence = float(np.prod([p.confidence for p in parts])) if parts else 1.0
    alts: dict[str, float] = {text: confidence}
    for i, p in enumerate(parts):  # one cell changed to its next best reading
        for alt, c in itertools.islice(p.alternatives, 1, 3):
            swapped = [q.text for q in parts]
            swapped[i] = alt
            rest = confidence / p.confidence if p.confidence > 0 else 0.0
            alts.setdefault("".join(swapped), rest * c)
    ranked = sorted(alts.items(), key=lambda kv: -kv[1])[:_ALTERNATIVES]
    return FieldReading(text, confidence, tuple(ranked))


def load_strokes(s: Session, page: str, field_id: str) -> list[Stroke]:
    """The field's strokes on its own station's page (foreign-page ink is kept out)."""
    rows = s.scalars(
        select(InkStroke)
        .where(InkStroke.page == page, InkStroke.field_id == field_id)
        .order_by(InkStroke.id)
    ).all()
    out: list[Stroke] = []
    for r in rows:
        if "foreign_page" in r.flags.split(","):
            continue
        pts = np.frombuffer(r.points, dtype="<f8").reshape(-1, 4)
        out.append(Stroke(pts, r.pen_serial, PageAddress.parse(r.page) if r.page else None))
    return out


def digitise_field(engine: Engine, settings: Settings, field_pk: int) -> str:
    """Read field ``field_pk`` at its current version and store the results.

    Returns what happened: ``read``, ``skipped`` (not a read kind), ``missing``
    (no such field), ``already`` (this version was read before).
    """
    with session(engine) as s:
        f = s.get(FieldInk, field_pk)
        if f is None:
            return "missing"
        version, kind = f.version, f.kind
        strokes = [] if kind in NOT_READ else load_strokes(s, f.page, f.field_id)
    if kind in NOT_READ:
        with session(engine) as s, s.begin():
            s.execute(
                update(FieldInk)
                .where(FieldInk.id == field_pk, FieldInk.version == version)
                .values(state="read")
            )
        return "skipped"
    lay = layouts(tuple(settings.pv_candidates)).get(f.form)
    if lay is None:
        return "missing"
    result = read_field(lay.field(f.field_id), lay, strokes)
    if result.error:
        log.warning(
            "read.failed", station_id=f.station_id, field=f.field_id, kind=kind, error=result.error
        )
    return _store(engine, settings, f, version, result, lay)


def _store(
    engine: Engine,
    settings: Settings,
    f: FieldInk,
    version: int,
    result: FieldReading,
    layout: FormLayout,
) -> str:
    at = _now_ms()
    personal = f.form == "contact"
    with session(engine) as s, s.begin():
        # One station's results change one at a time (PostgreSQL: row lock; SQLite: one writer).
        s.get(Station, f.station_id, with_for_update=True)
        done = s.scalar(
            select(Reading.id).where(Reading.field_pk == f.id, Reading.version == version)
        )
        if done is not None:
            return "already"
        s.add(
            Reading(
                field_pk=f.id,
                version=version,
                engine=ENGINE,
                text=None if personal else result.text,
                confidence=result.confidence,
                alternatives=[] if personal else [list(a) for a in result.alternatives],
                created_ms=at,
            )
        )
        s.execute(
            update(FieldInk)
            .where(FieldInk.id == f.id, FieldInk.version == version)
            .values(state="read")
        )
        if result.confidence < settings.review_threshold:
            _review(s, f, version, None if personal else result.text, at)
        s.flush()
        if personal:
            _contact(s, settings, f, result, layout, at)
        elif f.form == "pv":
            _pv(s, settings, f.station_id, layout, at)
    log.info(
        "field.read",
        station_id=f.station_id,
        form=f.form,
        field=f.field_id,
        version=version,
        confidence=round(result.confidence, 3),
    )
    return "read"


def _review(s: Session, f: FieldInk, version: int, proposal: str | None, at: int) -> None:
    exists = s.scalar(
        select(ReviewItem.id).where(
            ReviewItem.kind == "reading", ReviewItem.ref_id == f.id, ReviewItem.version == version
        )
    )
    if exists is None:
        s.add(
            ReviewItem(
                kind="reading",
                ref_id=f.id,
                version=version,
                station_id=f.station_id,
                departement=departement_of(f.station_id),
                proposal=proposal,
                created_ms=at,
            )
        )


def _latest(s: Session, fields: Sequence[FieldInk]) -> dict[int, Reading]:
    """The latest reading of each field (by field pk)."""
    if not fields:
        return {}
    rows = s.scalars(
        select(Reading)
        .where(Reading.field_pk.in_([f.id for f in fields]))
        .order_by(Reading.field_pk, Reading.id)
    ).all()
    return {r.field_pk: r for r in rows}


def _decided(s: Session, field_pk: int, version: int) -> str | None:
    """What reviewers decided for this field version, if they did."""
    return s.scalar(
        select(ReviewItem.decision).where(
            ReviewItem.kind == "reading",
            ReviewItem.ref_id == field_pk,
            ReviewItem.version == version,
            ReviewItem.state == "decided",
        )
    )


def _value(s: Session, settings: Settings, f: FieldInk, r: Reading) -> tuple[str | None, float]:
    """The text a field stands for: a confident reading, or the reviewers' decision."""
    if r.confidence >= settings.review_threshold and r.text:
        return r.text, r.confidence
    decision = _decided(s, f.id, r.version)
    return (decision, 1.0) if decision else (None, r.confidence)


def _pv(s: Session, settings: Settings, station_id: str, layout: FormLayout, at: int) -> None:
    """Recompute the station's PV result from its fields' latest readings."""
    fields = s.scalars(
        select(FieldInk)
        .where(FieldInk.station_id == station_id, FieldInk.form == "pv")
        .order_by(FieldInk.id)
    ).all()
    latest = _latest(s, fields)
    counts = [fl.id for fl in layout.fields if fl.kind == "count"]
    values: dict[str, Any] = dict.fromkeys(counts)
    texts: dict[str, str | None] = {}
    confidences: list[float] = []
    for f in fields:
        r = latest.get(f.id)
        if r is None:
            continue
        text, conf = _value(s, settings, f, r)
        texts[f.field_id] = text
        if f.field_id in values:
            values[f.field_id] = int(text) if text is not None and text.isdigit() else None
            if values[f.field_id] is not None:
                confidences.append(conf)
    complete = all(v is not None for v in values.values())
    row = s.get(PvResult, station_id)
    if row is None:
        row = PvResult(station_id=station_id, departement=departement_of(station_id))
        s.add(row)
    row.values = values
    row.confidence = min(confidences) if confidences else 0.0
    row.complete = complete
    row.updated_ms = at
    if complete:
        store_findings(s, settings, station_id, values, texts.get("closing_time"), layout, at)


def _contact(
    s: Session,
    settings: Settings,
    f: FieldInk,
    result: FieldReading,
    layout: FormLayout,
    at: int,
) -> None:
    """Seal the field's value into the page's contact row and recompute its summary."""
    cipher = ContactCipher.from_text(settings.contact_key.get_secret_value())
    row = s.scalars(select(Contact).where(Contact.page == f.page)).first()
    if row is None:
        row = Contact(
            station_id=f.station_id,
            departement=departement_of(f.station_id),
            page=f.page,
            consent=False,
            encrypted={},
            confidence=0.0,
            updated_ms=at,
        )
        s.add(row)
    sealed = dict(row.encrypted)
    if result.text:
        sealed[f.field_id] = cipher.encrypt(f.page, f.field_id, result.text)
    else:
        sealed.pop(f.field_id, None)
    fields = s.scalars(select(FieldInk).where(FieldInk.page == f.page)).all()
    latest = _latest(s, fields)
    consent = False
    for fl in fields:
        r = latest.get(fl.id)
        if fl.kind != "checkbox" or r is None or r.confidence < settings.review_threshold:
            continue
        value = sealed.get(fl.field_id)
        ticked = value is not None and _ticked(cipher.decrypt(f.page, fl.field_id, value))
        consent = consent or ticked
    row.encrypted = sealed
    row.consent = consent
    row.confidence = min((r.confidence for r in latest.values()), default=0.0)
    row.updated_ms = at


def _ticked(text: str) -> bool:
    return text.strip().lower() not in UNTICKED
