"""Ink assembly: stored batches back into strokes, strokes into stations' pages and fields.

Reads the batches intake stored (never changing them) after the ``assembly``
:class:`~ingest.db.PipelineCursor`, in id order, one batch per transaction:

1. the events of each pen session (``summary.pen_session``) that carry ink
   (hello, pen-down, page, dots, pen-up) are decoded from their raw frames
   with :class:`~pen.wire.StreamDecoder` and fed to an
   :class:`~pen.wire.InkAssembler`; the frames of a stroke still open at the
   end of the batch are kept in :class:`~ingest.db.PenSessionState` and fed
   again with the next batch;
2. each finished stroke's page is looked up in the kits: a page issued to
   another station or to nobody is flagged ``foreign_page`` (kept, with a
   finding, but not mixed into anyone's fields), a pen not in the station's
   kit ``foreign_pen``;
3. the stroke is hit-tested against its form and stored as an
   :class:`~ingest.db.InkStroke`; its field's :class:`~ingest.db.FieldInk`
   version is bumped and the field is ``pending`` again.

The strokes, the session memory, the fields, the findings and the cursor move
in the same transaction, so a crash at any point loses and doubles nothing.

Readiness (:func:`mark_ready` and the rules applied here): a field is
``ready`` when its page is complete: the station closed (an agent note of
kind ``StationClosed``), the pen moved on to another page of the same form,
or no ink came on the page for ``Settings.field_idle_s``.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import structlog
from sqlalchemy import Engine, Table, case, func, insert, select, update
from sqlalchemy.orm import Session

from ingest.db import (
    FieldInk,
    FindingRow,
    InkStroke,
    PenSessionState,
    PipelineCursor,
    ReviewItem,
    StoredBatch,
    session,
)
from ingest.geo import departement_of
from ingest.kits import PageOwner, page_owner, pen_owner
from ingest.layouts import Layouts, layouts
from ingest.settings import Settings
from pen.forms import assign
from pen.ink import Ink, Stroke
from pen.page import PageAddress
from pen.wire import (
    Hello,
    InkAssembler,
    Message,
    PenDown,
    Received,
    StrokeIncomplete,
    decode_stream,
    encode_message,
)

log = structlog.get_logger(__name__)

CURSOR = "assembly"
#: Summary kinds whose raw bytes are one frame of ink (other events are notes or evidence).
INK_KINDS = frozenset({"Hello", "PenDown", "Page", "Dots", "PenUp"})
#: Agent notes that close a station: every page it has is complete.
CLOSE_KINDS = frozenset({"StationClosed"})
FOREIGN_PAGE = "foreign_page"
FOREIGN_PEN = "foreign_pen"
INCOMPLETE = "incomplete"
NO_PAGE = "no_page"
#: Finding codes of the catalogue (docs/reconciliation-rules.md) that assembly raises itself.
CODE_FOREIGN_PEN = "F.505"
CODE_FOREIGN_PAGE = "F.508"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class AssemblyStats:
    """What one call of :func:`assemble` did."""

    batches: int = 0
    strokes: int = 0
    flagged: int = 0


@dataclass(slots=True)
class _Session:
    key: str
    pen_serial: str
    source: str
    frames: list[bytes] = field(default_factory=list)
    inks: bool = False
    """A pen-down is among the frames: the pen writes in this session."""


def _decode(blob: bytes) -> list[tuple[Message, int]]:
    """Frames back to back into messages and their sequence numbers.

    The agent journaled each frame once (its decoder reports duplicates apart),
    so one decoder over the session's frames delivers each message once; a
    frame that does not decode is evidence only (stored in the batch), not ink.
    """
    return [(e.message, e.seq) for e in decode_stream(blob) if isinstance(e, Received)]


def stored_events(body: bytes) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Each event's raw bytes and summary, from a stored batch body.

    Stored bodies were parsed, verified and chained by intake
    (:func:`pen.batches.parse_batch`) before they were stored, and are
    immutable: reading them needs no second validation.
    """
    for ev in json.loads(body)["events"]:
        summary = ev.get("summary")
        yield base64.b64decode(ev["raw"]), summary if isinstance(summary, dict) else {}


class _Batch:
    """The work of one stored batch, inside its transaction."""

    def __init__(self, s: Session, settings: Settings, row: StoredBatch, at_ms: int) -> None:
        self.s = s
        self.settings = settings
        self.layouts: Layouts = layouts(tuple(settings.pv_candidates))
        self.row = row
        self.station = row.station_id
        self.at_ms = at_ms
        self.pages: dict[PageAddress, PageOwner | None] = {}
        self.pens: dict[str, str | None] = {}
        self.last_page: dict[str, str | None] = {}
        self.findings: Counter[tuple[str, str, str]] = Counter()
        self.rows: list[dict[str, Any]] = []
        self.to_hit: dict[str, list[tuple[int, Stroke]]] = {}
        """Form -> (position in ``rows``, stroke) of the strokes to hit-test."""
        self.bumps: Counter[tuple[str, str]] = Counter()
        self.forms: dict[str, str] = {}
        self.inked: dict[str, int] = {}
        """Page -> position (in ``rows``) of the last stroke on it."""
        self.turned: dict[str, int] = {}
        """Page -> position of the last stroke that turned away from it."""
        self.stats = AssemblyStats(batches=1)

    # --- lookups -----------------------------------------------------------------------

    def owner(self, page: PageAddress) -> PageOwner | None:
        if page not in self.pages:
            self.pages[page] = page_owner(self.s, page)
        return self.pages[page]

    def pen(self, serial: str) -> str | None:
        if serial not in self.pens:
            self.pens[serial] = pen_owner(self.s, serial)
        return self.pens[serial]

    def previous_page(self, serial: str) -> str | None:
        if serial not in self.last_page:
            self.last_page[serial] = self.s.scalar(
                select(InkStroke.page)
                .where(InkStroke.station_id == self.station, InkStroke.pen_serial == serial)
                .order_by(InkStroke.id.desc())
                .limit(1)
            )
        return self.last_page[serial]

    # --- sessions ----------------------------------------------------------------------

    def run(self) -> AssemblyStats:
        sessions: dict[str, _Session] = {}
        closed = False
        for raw, summary in stored_events(self.row.body):
            kind = str(summary.get("kind", ""))
            source = str(summary.get("source", ""))
            if source == "agent":
                closed = closed or kind in CLOSE_KINDS
                continue
            if kind not in INK_KINDS:
                continue
            key = str(summary.get("pen_session") or "")
            serial = str(summary.get("pen_serial") or "")
            sess = sessions.setdefault(key, _Session(key, serial, source))
            sess.frames.append(raw)
            sess.inks = sess.inks or kind == "PenDown"
        states = {
            st.pen_session: st
            for st in self.s.scalars(
                select(PenSessionState).where(PenSessionState.station_id == self.station)
            )
        }
        # A pen that writes in another live session has ended its earlier ones. Not as soon
        # as it says hello: a pen of protocol v2 first sends again, in their own session, the
        # frames an earlier session still owes (docs/pen-protocol.md), and only then new ink.
        writing = [x for x in sessions.values() if x.source == "live" and x.inks]
        reconnected = {x.pen_serial for x in writing if x.pen_serial}
        for key, sess in sessions.items():
            self._session(sess, states.get(key), finish=closed)
        for key, st in states.items():
            if key in sessions or not st.carry:
                continue
            if closed or st.pen_serial in reconnected:
                self._session(_Session(key, st.pen_serial, st.source), st, finish=True)
        self._store_strokes()
        self._store_findings()
        if closed:
            self._ready(FieldInk.station_id == self.station)
            log.info("station.closed", station_id=self.station, batch_seq=self.row.seq)
        return self.stats

    def _session(self, sess: _Session, state: PenSessionState | None, *, finish: bool) -> None:
        assembler = InkAssembler(sess.pen_serial or (state.pen_serial if state else ""))
        prelude: list[Message] = []
        if state is not None and state.hello:
            prelude = [m for m, _ in _decode(state.hello) if isinstance(m, Hello)]
        carried = state.carry if state is not None else b""
        messages = _decode(carried + b"".join(sess.frames))
        out = assembler.feed([*prelude, *(m for m, _ in messages)])
        if finish:
            out += assembler.finish()
        hello = state.hello if state is not None else b""
        last_down = 0
        for i, (m, seq) in enumerate(messages):
            if isinstance(m, Hello):
                hello = encode_message(m, seq)
            elif isinstance(m, PenDown):
                last_down = i
        open_stroke = messages[last_down:] if assembler.in_stroke else []
        carry = b"".join(encode_message(m, seq) for m, seq in open_stroke)
        self._strokes(out)
        if state is None:
            state = PenSessionState(station_id=self.station, pen_session=sess.key)
            self.s.add(state)
        state.pen_serial = assembler.pen_serial or sess.pen_serial
        state.source = sess.source
        state.hello = hello
        state.carry = carry
        state.updated_ms = self.at_ms

    # --- strokes -----------------------------------------------------------------------

    def _strokes(self, out: Sequence[object]) -> None:
        last: dict[str, Any] | None = None
        for item in out:
            if isinstance(item, Stroke):
                last = self._stroke(item)
            elif isinstance(item, StrokeIncomplete) and last is not None:
                if item.received_dots and INCOMPLETE not in last["flags"].split(","):
                    last["flags"] = ",".join(f for f in (last["flags"], INCOMPLETE) if f)
                last = None
            else:
                last = None

    def _stroke(self, stroke: Stroke) -> dict[str, Any]:
        flags: list[str] = []
        serial = stroke.pen_serial
        page = stroke.page
        form: str | None = None
        mine = False
        if page is None:
            flags.append(NO_PAGE)
        else:
            owner = self.owner(page)
            form = owner.form if owner else None
            mine = owner is not None and owner.station_id == self.station
            if not mine:
                flags.append(FOREIGN_PAGE)
                issued = owner.station_id if owner else ""
                self.findings[(CODE_FOREIGN_PAGE, str(page), issued)] += 1
            if self.layouts.get(form) is not None:
                self.to_hit.setdefault(form or "", []).append((len(self.rows), stroke))
        holder = self.pen(serial)
        if holder != self.station:
            flags.append(FOREIGN_PEN)
            self.findings[(CODE_FOREIGN_PEN, serial, holder or "")] += 1
        pts = np.ascontiguousarray(stroke.points, dtype="<f8")
        row: dict[str, Any] = {
            "station_id": self.station,
            "batch_id": self.row.id,
            "pen_serial": serial,
            "page": "" if page is None else str(page),
            "form": form,
            "field_id": None,
            "t_start_ms": int(stroke.start_ms),
            "t_end_ms": int(np.ceil(stroke.end_ms)),
            "n_points": len(pts),
            "points": pts.tobytes(),
            "flags": ",".join(flags),
        }
        self.rows.append(row)
        self.stats.strokes += 1
        self.stats.flagged += bool(flags)
        if mine and page is not None and form is not None:
            self._page_turn(serial, str(page), form)
            self.inked[str(page)] = len(self.rows)
            row["mine"] = True
        return row

    def _page_turn(self, serial: str, page: str, form: str) -> None:
        """The pen left ``before`` for another page of the same form: ``before`` is complete."""
        before = self.previous_page(serial)
        self.last_page[serial] = page
        if not before or before == page:
            return
        prev = self.owner(PageAddress.parse(before))
        if prev is not None and prev.station_id == self.station and prev.form == form:
            self.turned[before] = len(self.rows)

    def _hit_test(self) -> None:
        """Each stroke's field, one pass per form; the fields of the station's own pages grow."""
        for form, items in self.to_hit.items():
            layout = self.layouts.get(form)
            assert layout is not None
            hits = assign(Ink(tuple(st for _, st in items)), layout).hits
            for (pos, _), hit in zip(items, hits, strict=True):
                self.rows[pos]["field_id"] = hit.field_id
        for row in self.rows:
            if row.pop("mine", False) and row["field_id"] is not None:
                self.bumps[(row["page"], row["field_id"])] += 1
                self.forms[row["page"]] = row["form"]

    def _store_strokes(self) -> None:
        """Write the batch's strokes, bump their fields, then apply the page turns."""
        self._hit_test()
        if self.rows:
            self.s.execute(insert(InkStroke), self.rows)
        pages = sorted({page for page, _ in self.bumps})
        rows = self.s.execute(
            select(FieldInk.page, FieldInk.field_id).where(FieldInk.page.in_(pages))
        )
        known = {(page, field_id) for page, field_id in rows}
        table = cast(Table, FieldInk.__table__)
        new: list[dict[str, Any]] = []
        for (page, field_id), n in self.bumps.items():
            if (page, field_id) in known:
                self.s.execute(
                    update(table)
                    .where(table.c.page == page, table.c.field_id == field_id)
                    .values(version=table.c.version + n, state="pending", last_ink_ms=self.at_ms)
                )
                continue
            layout = self.layouts.get(self.forms[page])
            assert layout is not None
            new.append(
                {
                    "station_id": self.station,
                    "page": page,
                    "form": self.forms[page],
                    "field_id": field_id,
                    "kind": layout.field(field_id).kind,
                    "version": n,
                    "state": "pending",
                    "last_ink_ms": self.at_ms,
                }
            )
        if new:
            self.s.execute(insert(table), new)
        for page, when in self.turned.items():
            if when > self.inked.get(page, -1):  # no ink came back on it after the turn
                self._ready(FieldInk.page == page)

    def _ready(self, where: Any) -> None:
        self.s.execute(
            update(FieldInk)
            .where(where, FieldInk.state == "pending")
            .values(state="ready")
            .execution_options(synchronize_session=False)
        )

    # --- findings ----------------------------------------------------------------------

    def _store_findings(self) -> None:
        if not self.findings:
            return
        existing = self.s.scalars(
            select(FindingRow).where(
                FindingRow.station_id == self.station,
                FindingRow.code.in_([CODE_FOREIGN_PAGE, CODE_FOREIGN_PEN]),
            )
        ).all()
        by_key = {
            (r.code, str(r.evidence.get("page") or r.evidence.get("pen_serial") or "")): r
            for r in existing
            if r.evidence.get("stage") == "assembly"
        }
        for (code, what, issued), count in sorted(self.findings.items()):
            row = by_key.get((code, what))
            if row is not None:
                evidence = dict(row.evidence)
                evidence["strokes"] = int(evidence.get("strokes", 0)) + count
                row.evidence = evidence
                continue
            row = _new_finding(self.station, code, what, issued, count, self.at_ms)
            self.s.add(row)
            self.s.flush()
            by_key[(code, what)] = row
            self.s.add(
                ReviewItem(
                    kind="finding",
                    ref_id=row.id,
                    version=0,
                    station_id=self.station,
                    departement=row.departement,
                    proposal=None,
                    created_ms=self.at_ms,
                )
            )
            log.warning("assembly.finding", station_id=self.station, code=code)


def _new_finding(
    station: str, code: str, what: str, issued: str, count: int, at_ms: int
) -> FindingRow:
    to = f"station {issued}" if issued else "no station"
    if code == CODE_FOREIGN_PAGE:
        message = (
            f"Station {station} sent {count} stroke(s) on page {what}, issued to {to}: "
            "find which station the sheet was issued to; the pages may have been swapped."
        )
        evidence: dict[str, object] = {"page": what}
    else:
        message = (
            f"Station {station} sent {count} stroke(s) from pen {what}, in the kit of {to}: "
            "find where the pen was issued."
        )
        evidence = {"pen_serial": what}
    evidence.update(stage="assembly", issued_to=issued or None, strokes=count)
    return FindingRow(
        station_id=station,
        departement=departement_of(station),
        code=code,
        severity="error",
        message=message,
        fields=[],
        evidence=evidence,
        created_ms=at_ms,
    )


def _cursor(s: Session) -> PipelineCursor:
    cur = s.get(PipelineCursor, CURSOR, with_for_update=True)
    if cur is None:
        cur = PipelineCursor(name=CURSOR, last_id=0)
        s.add(cur)
        s.flush()
    return cur


def _next_batch(s: Session, after: int, at_ms: int, grace_s: float) -> StoredBatch | None:
    row = s.scalars(
        select(StoredBatch).where(StoredBatch.id > after).order_by(StoredBatch.id).limit(1)
    ).first()
    if row is None:
        return None
    if row.id != after + 1 and at_ms - row.received_at_ms < grace_s * 1000:
        # a lower id may belong to a transaction still committing (PostgreSQL): wait for it
        return None
    return row


def assemble(
    engine: Engine, settings: Settings, *, max_batches: int = 1000, at_ms: int | None = None
) -> AssemblyStats:
    """Assemble up to ``max_batches`` stored batches after the cursor, one transaction each."""
    total = AssemblyStats()
    for _ in range(max_batches):
        t = at_ms if at_ms is not None else now_ms()
        with session(engine) as s, s.begin():
            cur = _cursor(s)
            row = _next_batch(s, cur.last_id, t, settings.assembly_gap_grace_s)
            if row is None:
                break
            stats = _Batch(s, settings, row, t).run()
            cur.last_id = row.id
        total.batches += stats.batches
        total.strokes += stats.strokes
        total.flagged += stats.flagged
    return total


def mark_ready(engine: Engine, settings: Settings, *, at_ms: int | None = None) -> int:
    """Pages with pending fields and no new ink for ``field_idle_s``: their fields are ready."""
    t = at_ms if at_ms is not None else now_ms()
    cutoff = t - int(settings.field_idle_s * 1000)
    with session(engine) as s, s.begin():
        pending = select(FieldInk.page).where(FieldInk.state == "pending").distinct()
        idle = s.scalars(
            select(FieldInk.page)
            .where(FieldInk.page.in_(pending))
            .group_by(FieldInk.page)
            .having(func.max(FieldInk.last_ink_ms) <= cutoff)
        ).all()
        if not idle:
            return 0
        done = s.execute(
            update(FieldInk)
            .where(FieldInk.page.in_(idle), FieldInk.state == "pending")
            .values(state="ready")
        )
        return int(done.rowcount)  # type: ignore[attr-defined]


def ready_groups(engine: Engine, limit: int = 1000) -> list[list[int]]:
    """Ids of the fields waiting to be read, grouped by page (read together): the minutes'
    pages first (the night's results wait on them, contact forms can wait), then
    oldest ink first."""
    minutes_first = case((FieldInk.form == "pv", 0), else_=1)
    with session(engine) as s:
        rows = s.execute(
            select(FieldInk.page, FieldInk.id)
            .where(FieldInk.state == "ready")
            .order_by(minutes_first, FieldInk.last_ink_ms, FieldInk.id)
            .limit(limit)
        ).all()
    groups: dict[str, list[int]] = {}
    for page, pk in rows:
        groups.setdefault(page, []).append(pk)
    return list(groups.values())
