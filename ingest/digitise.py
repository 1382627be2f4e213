"""Digitisation: read one ready field with ``ocr.read`` and store what it means.

:func:`digitise_fields` is the one task the workers run (locally or on Celery):
it takes field ids (the pipeline sends the ready fields of one page together),
loads their ink from the database, reads them, and in one transaction stores
the :class:`~ingest.db.Reading` rows and updates what depends on them:

- a PV field: the station's :class:`~ingest.db.PvResult` (a value per count
  field, ``None`` while the reading is below ``Settings.review_threshold`` and
  no review has decided it), a ``reading`` review item for a doubtful value
  (or a count that reads as no number),
  and, once every count has a value, reconciliation's findings;
- a contact field: the page's :class:`~ingest.db.Contact`, each value
  encrypted apart (:class:`~ingest.crypto.ContactCipher`); the reading keeps
  only its confidence (``text`` ``None``, no alternatives) and a review item
  carries no proposal. Nothing personal is logged or raised.

Recognition never crashes the task: an unsupported kind or an ocr error is
a reading of confidence 0, which goes to review.

Comb fields are read through their boxes, one character each under the
field's rules, except ``count`` fields, read whole (the writer may ignore the
boxes).
"""

from __future__ import annotations

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
from ocr.address import FORM_NAME_MIN
from pen.forms import Field, FormLayout
from pen.ink import Stroke
from pen.page import PageAddress

log = structlog.get_logger(__name__)

ENGINE = "plume"
#: Field kinds nobody reads: the ink is kept for the timeline rules only.
NOT_READ = frozenset({"signature", "free_text"})
#: Kinds of e-mail fields (read last: the names on the same contact form help), and of
#: name fields.
EMAIL_KINDS = frozenset({"email", "email_char"})
NAME_KINDS = frozenset({"upper", "name"})
#: Checkbox readings that mean "not ticked".
UNTICKED = frozenset({"", "0", "no", "false"})


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


def _read_one(
    strokes: Sequence[np.ndarray],
    kind: str,
    boxes: Sequence[tuple[float, ...]] | None = None,
    words: Sequence[str] = (),
) -> FieldReading:
    try:
        r = ocr.read(list(strokes), kind, boxes=boxes, words=words)
    except Exception as exc:  # any recogniser failure is a reading for people
        return _failed(exc)
    alts = tuple((str(t), float(c)) for t, c in r.alternatives)
    return FieldReading(str(r.text), float(r.confidence), alts)


def read_field(
    field: Field, layout: FormLayout, strokes: Sequence[Stroke], words: Sequence[str] = ()
) -> FieldReading:
    """Read a field's strokes: ``count`` whole (writers ignore its boxes), other combs
    through their boxes (one character each, under the field's rules: postcode,
    phone, e-mail), single boxes whole. ``words``: for an e-mail field, the names
    read on the same form (its address is most often made of them)."""
    xyt = [s.xyt() for s in strokes]
    if field.kind == "count" or not field.is_comb:
        return _read_one(xyt, field.kind)
    boxes = [(b.rect.x, b.rect.y, b.rect.width, b.rect.height) for b in field.boxes]
    # a contact form's capitals are its voter's names: read under the names prior
    kind = "name" if layout.form_id == "contact" and field.kind == "upper" else field.kind
    return _read_one(xyt, kind, boxes, words)


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
    return digitise_fields(engine, settings, [field_pk])[field_pk]


@dataclass(frozen=True, slots=True)
class _Todo:
    field: FieldInk
    version: int
    result: FieldReading | None
    """None: a kind nobody reads."""


def digitise_fields(engine: Engine, settings: Settings, field_pks: Sequence[int]) -> dict[int, str]:
    """Read several fields (best: the ready fields of one page) and store them in one transaction.

    Recognition runs outside the transaction; the readings, the fields' states
    and what depends on them (PV result, contact) are then written together,
    each dependent recomputed once. Returns what happened to each field (see
    :func:`digitise_field`).
    """
    outcome: dict[int, str] = dict.fromkeys(field_pks, "missing")
    todo: list[_Todo] = []
    lays = layouts(tuple(settings.pv_candidates))
    addresses: list[tuple[FieldInk, FormLayout, list[Stroke]]] = []
    names: dict[str, list[str]] = {}  # page -> what its name fields may say
    with session(engine) as s:
        for pk in dict.fromkeys(field_pks):
            f = s.get(FieldInk, pk)
            lay = lays.get(f.form) if f is not None else None
            if f is None or lay is None:
                continue
            if f.kind in NOT_READ:
                todo.append(_Todo(f, f.version, None))
                continue
            strokes = load_strokes(s, f.page, f.field_id)
            if f.kind in EMAIL_KINDS:
                addresses.append((f, lay, strokes))  # after the names of its form
                continue
            read = read_field(lay.field(f.field_id), lay, strokes)
            if f.form == "contact" and f.kind in NAME_KINDS:
                names.setdefault(f.page, []).extend(
                    t for t, p in read.alternatives if p >= FORM_NAME_MIN
                )
            todo.append(_Todo(f, f.version, read))
    for f, lay, strokes in addresses:
        words = names.get(f.page, [])
        todo.append(_Todo(f, f.version, read_field(lay.field(f.field_id), lay, strokes, words)))
    for t in todo:
        if t.result is not None and t.result.error:
            f = t.field
            log.warning(
                "read.failed",
                station_id=f.station_id,
                field=f.field_id,
                kind=f.kind,
                error=t.result.error,
            )
    for station_id in dict.fromkeys(t.field.station_id for t in todo):
        mine = [t for t in todo if t.field.station_id == station_id]
        outcome.update(_store(engine, settings, station_id, mine))
    return outcome


def _store(
    engine: Engine, settings: Settings, station_id: str, todo: Sequence[_Todo]
) -> dict[int, str]:
    at = _now_ms()
    lays = layouts(tuple(settings.pv_candidates))
    outcome: dict[int, str] = {}
    pv = False
    contacts: dict[str, list[tuple[FieldInk, FieldReading]]] = {}
    with session(engine) as s, s.begin():
        # One station's results change one at a time (PostgreSQL: row lock; SQLite: one writer).
        s.get(Station, station_id, with_for_update=True)
        for t in todo:
            f, version, result = t.field, t.version, t.result
            to_read = (
                update(FieldInk)
                .where(FieldInk.id == f.id, FieldInk.version == version)
                .values(state="read")
                .execution_options(synchronize_session=False)
            )
            if result is None:
                s.execute(to_read)
                outcome[f.id] = "skipped"
                continue
            done = s.scalar(
                select(Reading.id).where(Reading.field_pk == f.id, Reading.version == version)
            )
            if done is not None:
                outcome[f.id] = "already"
                continue
            personal = f.form == "contact"
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
            s.execute(to_read)
            not_a_count = f.kind == "count" and not result.text.isdigit()
            if result.confidence < settings.review_threshold or not_a_count:
                _review(s, f, version, None if personal else result.text, at)
            if personal:
                contacts.setdefault(f.page, []).append((f, result))
            pv = pv or f.form == "pv"
            outcome[f.id] = "read"
        s.flush()
        for page, results in contacts.items():
            _contact(s, settings, station_id, page, results, at)
        if pv:
            _pv(s, settings, station_id, lays.pv, at)
    for t in todo:
        if outcome.get(t.field.id) == "read" and t.result is not None:
            log.info(
                "field.read",
                station_id=station_id,
                form=t.field.form,
                field=t.field.field_id,
                version=t.version,
                confidence=round(t.result.confidence, 3),
            )
    return outcome


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
    read: set[str] = set()
    for f in fields:
        r = latest.get(f.id)
        if r is None:
            continue
        read.add(f.field_id)
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
    if read.issuperset(counts):
        # Every count has been read, some perhaps doubtfully (None: waiting for review):
        # the timeline rules need only the ink, and the arithmetic skips what waits (W.010).
        store_findings(s, settings, station_id, values, texts.get("closing_time"), layout, at)


def _contact(
    s: Session,
    settings: Settings,
    station_id: str,
    page: str,
    results: Sequence[tuple[FieldInk, FieldReading]],
    at: int,
) -> None:
    """Seal the fields' values into the page's contact row and recompute its summary."""
    cipher = ContactCipher.from_text(settings.contact_key.get_secret_value())
    row = s.scalars(select(Contact).where(Contact.page == page)).first()
    if row is None:
        row = Contact(
            station_id=station_id,
            departement=departement_of(station_id),
            page=page,
            consent=False,
            encrypted={},
            confidence=0.0,
            updated_ms=at,
        )
        s.add(row)
    sealed = dict(row.encrypted)
    for f, result in results:
        if result.text:
            sealed[f.field_id] = cipher.encrypt(page, f.field_id, result.text)
        else:
            sealed.pop(f.field_id, None)
    fields = s.scalars(select(FieldInk).where(FieldInk.page == page)).all()
    latest = _latest(s, fields)
    consent = False
    for fl in fields:
        r = latest.get(fl.id)
        if fl.kind != "checkbox" or r is None or r.confidence < settings.review_threshold:
            continue
        value = sealed.get(fl.field_id)
        ticked = value is not None and _ticked(cipher.decrypt(page, fl.field_id, value))
        consent = consent or ticked
    row.encrypted = sealed
    row.consent = consent
    row.confidence = min((r.confidence for r in latest.values()), default=0.0)
    row.updated_ms = at


def _ticked(text: str) -> bool:
    return text.strip().lower() not in UNTICKED
