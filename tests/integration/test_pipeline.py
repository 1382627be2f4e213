"""The ingest pipeline end to end on real SQLite: a simulated station's day, uploaded as
signed batches through the real intake, assembled, read and turned into results.

Ground truth comes from the simulator (what was written), never hard-coded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from hardware_sim.day import StationDay, simulate_day
from hardware_sim.scenarios import count_value
from hardware_sim.stations import pick_stations
from ingest import assembly
from ingest.assembly import assemble
from ingest.db import (
    FieldInk,
    InkStroke,
    PenSessionState,
    PipelineCursor,
    PvResult,
    Reading,
    ReviewItem,
    create_schema,
    make_engine,
    session,
)
from ingest.digitise import NOT_READ
from ingest.layouts import layouts
from ingest.pipeline import run_once
from ingest.settings import Settings
from pen.batches import GENESIS_HASH, BatchEvent, batch_hash, parse_batch
from pen.forms import assign
from pen.wire import decode_ink, decode_stream
from plume.sim_kits import create_sim_kits
from tests.pipeline_sim import (
    close_event,
    day_events,
    enrol_station,
    session_events,
    signed_bodies,
    upload,
)


@pytest.fixture(scope="module")
def day() -> StationDay:
    station = pick_stations(1, seed=11)[0]
    return simulate_day(station, "honest", seed=5, contact_rate=0.03)


def _engine(tmp_path: Path) -> tuple[Engine, Settings]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ingest.db'}", worker_count=2)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    return engine, settings


def _load_day(engine: Engine, day: StationDay, per_batch: int, close: bool = True) -> int:
    codes = create_sim_kits(engine, [day.station], contact_sheets=50)
    key = enrol_station(engine, day.station.id, codes[day.station.id])
    bodies = signed_bodies(day.station.id, key, day_events(day, close=close), per_batch=per_batch)
    upload(engine, day.station.id, bodies)
    return len(bodies)


def _expected_strokes(day: StationDay) -> int:
    return sum(len(decode_ink(data)[0]) for data in day.sessions.values())


def test_a_day_becomes_pv_readings_and_a_result(tmp_path: Path, day: StationDay) -> None:
    engine, settings = _engine(tmp_path)
    n_batches = _load_day(engine, day, per_batch=97)  # strokes straddle batches
    stats = run_once(engine, settings)
    assert stats.batches == n_batches
    assert stats.strokes == _expected_strokes(day) == len(day.ink)
    assert stats.failed == 0
    layout = layouts(settings.pv_candidates).pv
    counts = [f.id for f in layout.fields if f.kind == "count"]
    with session(engine) as s:
        fields = {
            f.field_id: f for f in s.scalars(select(FieldInk).where(FieldInk.form == "pv")).all()
        }
        assert set(counts) <= set(fields)
        assert all(fields[c].state == "read" for c in counts)
        readings = {
            f.field_id: s.scalars(select(Reading).where(Reading.field_pk == f.id)).one()
            for f in fields.values()
            if f.kind == "count"
        }
        result = s.get(PvResult, day.station.id)
        reviews = s.scalars(select(ReviewItem).where(ReviewItem.kind == "reading")).all()
        flagged = s.scalar(select(func.count()).where(InkStroke.flags != ""))
    assert result is not None and result.departement == day.station.departement
    confident = 0
    for fid, r in readings.items():
        truth = count_value(day.pv.written_counts, fid)
        if r.confidence >= settings.review_threshold:
            confident += 1
            assert result.values[fid] == int(r.text or "-1")
            assert result.values[fid] == truth, (fid, r.text, r.confidence)
        else:
            assert result.values[fid] is None
            assert any(i.ref_id == fields[fid].id and i.proposal == r.text for i in reviews)
    assert confident >= len(counts) // 2  # the recogniser reads most counts confidently
    assert result.complete == all(v is not None for v in result.values.values())
    assert flagged == 0  # honest day: every page and pen is the station's own


def test_strokes_do_not_depend_on_how_the_day_was_cut_into_batches(
    tmp_path: Path, day: StationDay
) -> None:
    seen = []
    for i, per_batch in enumerate((53, 1000)):
        engine, settings = _engine(tmp_path / str(i))
        _load_day(engine, day, per_batch=per_batch)
        assemble(engine, settings)
        with session(engine) as s:
            rows = s.scalars(select(InkStroke).order_by(InkStroke.t_start_ms, InkStroke.id))
            seen.append([(r.pen_serial, r.page, r.field_id, r.points) for r in rows])
    assert seen[0] == seen[1]
    assert len(seen[0]) == len(day.ink)


class _Crash(Exception):
    """Named fault: the process dying in the middle of a batch's transaction."""


def test_a_crash_mid_batch_loses_and_doubles_no_stroke(
    tmp_path: Path, day: StationDay, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, settings = _engine(tmp_path)
    n_batches = _load_day(engine, day, per_batch=41)
    calls = Counter[str]()
    real = assembly._Batch._store_findings

    def dies_on_third(self: assembly._Batch) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise _Crash
        real(self)

    monkeypatch.setattr(assembly._Batch, "_store_findings", dies_on_third)
    with pytest.raises(_Crash):
        assemble(engine, settings)
    with session(engine) as s:
        cursor = s.get(PipelineCursor, assembly.CURSOR)
        assert cursor is not None and cursor.last_id == 2  # the third batch rolled back
        partial = s.scalar(select(func.count()).select_from(InkStroke))
    assert 0 < partial < len(day.ink)
    monkeypatch.setattr(assembly._Batch, "_store_findings", real)
    stats = assemble(engine, settings)
    assert stats.batches == n_batches - 2
    again = assemble(engine, settings)  # nothing new: nothing stored twice
    assert again.batches == 0
    with session(engine) as s:
        rows = s.scalars(select(InkStroke)).all()
        versions = s.scalar(select(func.sum(FieldInk.version)))
    keys = Counter((r.pen_serial, r.t_start_ms, r.points) for r in rows)
    assert len(rows) == len(day.ink)
    assert max(keys.values()) == 1
    assert versions == sum(1 for r in rows if r.field_id is not None)


def test_fields_wait_for_the_page_to_be_complete(tmp_path: Path, day: StationDay) -> None:
    engine, settings = _engine(tmp_path)
    _load_day(engine, day, per_batch=500, close=False)
    t0 = assembly.now_ms()
    assemble(engine, settings, at_ms=t0)
    with session(engine) as s:
        pv_states = Counter(s.scalars(select(FieldInk.state).where(FieldInk.form == "pv")).all())
        contact_states = Counter(
            s.scalars(select(FieldInk.state).where(FieldInk.form == "contact")).all()
        )
    # Not closed, nothing idle: the PV (one page, never turned) is still pending; every
    # contact page but the last was turned by the pen moving on to the next sheet.
    assert set(pv_states) == {"pending"}
    if len(day.contacts) > 1:
        assert contact_states["ready"] > 0
    marked = assembly.mark_ready(engine, settings, at_ms=t0 + int(settings.field_idle_s * 1000))
    assert marked >= sum(pv_states.values())
    with session(engine) as s:
        left = s.scalar(select(func.count()).where(FieldInk.state == "pending"))
    assert left == 0


def test_more_ink_on_a_read_field_is_read_again(tmp_path: Path, day: StationDay) -> None:
    engine, settings = _engine(tmp_path)
    codes = create_sim_kits(engine, [day.station], contact_sheets=50)
    key = enrol_station(engine, day.station.id, codes[day.station.id])
    events = day_events(day, close=True)
    # The ink from the last stroke of a count field on arrives after everything was read.
    layout = layouts(settings.pv_candidates).pv
    hits = assign(day.pv.ink, layout)
    last = max(
        (day.pv.ink[i] for f, idx in hits.indices.items() if layout.field(f).kind == "count"
         for i in idx),
        key=lambda st: st.start_ms,
    )  # fmt: skip
    last_down = next(
        i
        for i, e in enumerate(events)
        if e.summary
        and e.summary["kind"] == "PenDown"
        and e.summary["pen_serial"] == last.pen_serial
        and decode_stream(e.raw)[0].message.t_ms == int(np.rint(last.start_ms))  # type: ignore[union-attr]
    )
    first = [*events[:last_down], events[-1]]
    rest = events[last_down:-1]
    upload(engine, day.station.id, signed_bodies(day.station.id, key, first))
    run_once(engine, settings)
    with session(engine) as s:
        before = {f.id: (f.version, f.state) for f in s.scalars(select(FieldInk))}
    with session(engine) as s:
        from ingest.db import StoredBatch

        head = s.scalars(select(StoredBatch).order_by(StoredBatch.seq.desc())).first()
        assert head is not None
        prev, seq = batch_hash(parse_batch(head.body)), head.seq + 1
    upload(
        engine,
        day.station.id,
        signed_bodies(day.station.id, key, rest, first_seq=seq, prev_hash=prev),
    )
    settings_now = settings.model_copy(update={"field_idle_s": 0.0})
    run_once(engine, settings_now)
    with session(engine) as s:
        after = {f.id: f for f in s.scalars(select(FieldInk))}
        grew = [f for pk, f in after.items() if pk not in before or f.version > before[pk][0]]
        assert grew, "the last stroke landed in no field"
        assert any(f.kind == "count" for f in grew)
        for f in grew:
            assert f.state == "read"
            versions = s.scalars(select(Reading.version).where(Reading.field_pk == f.id)).all()
            assert (f.version in versions) == (f.kind not in NOT_READ)


def test_assembly_killed_mid_run_resumes_with_no_stroke_lost_or_doubled(
    tmp_path: Path, day: StationDay
) -> None:
    engine, settings = _engine(tmp_path)
    n_batches = _load_day(engine, day, per_batch=40)
    env = {**os.environ, "PLUME_DATABASE_URL": settings.database_url}
    code = (
        "from ingest.assembly import assemble\n"
        "from ingest.db import make_engine\n"
        "from ingest.settings import Settings\n"
        "import time\n"
        "s = Settings()\n"
        "e = make_engine(s.database_url)\n"
        "while assemble(e, s, max_batches=1).batches:\n"  # paced, so the kill lands mid-run
        "    time.sleep(0.02)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo, env=env)

    def cursor() -> int:
        with session(engine) as s:
            row = s.get(PipelineCursor, assembly.CURSOR)
            return 0 if row is None else row.last_id

    try:
        deadline = time.monotonic() + 60
        while cursor() < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # no clean-up, no rollback by Python: a real crash
    finally:
        proc.wait(timeout=30)
    done_before = cursor()
    assert 3 <= done_before < n_batches, "the process was not killed mid-run"
    stats = assemble(engine, settings)
    assert stats.batches == n_batches - done_before
    with session(engine) as s:
        rows = s.scalars(select(InkStroke)).all()
    keys = Counter((r.pen_serial, r.t_start_ms, r.points) for r in rows)
    assert len(rows) == len(day.ink) == len(keys)


def test_a_stroke_cut_short_waits_in_the_session_then_is_kept_incomplete_at_closing(
    tmp_path: Path, day: StationDay
) -> None:
    engine, settings = _engine(tmp_path)
    codes = create_sim_kits(engine, [day.station], contact_sheets=50)
    key = enrol_station(engine, day.station.id, codes[day.station.id])
    serial = day.station.pen_serials[1]  # the assessor's pen: a signature
    events = session_events(day.sessions[serial])
    n = len(decode_ink(day.sessions[serial])[0])
    last_up = max(i for i, e in enumerate(events) if e.summary and e.summary["kind"] == "PenUp")
    cut = [*events[:last_up], *events[last_up + 1 :]]  # the last pen-up never came
    bodies = signed_bodies(day.station.id, key, cut)
    upload(engine, day.station.id, bodies)
    head = parse_batch(bodies[-1])
    closing = signed_bodies(
        day.station.id, key, [close_event(len(cut) + 1)],
        first_seq=head.seq + 1, prev_hash=batch_hash(head),
    )  # fmt: skip
    assemble(engine, settings)
    with session(engine) as s:
        stored = s.scalars(select(InkStroke).where(InkStroke.pen_serial == serial)).all()
        state = s.scalars(select(PenSessionState).where(PenSessionState.pen_serial == serial)).one()
    assert len(stored) == n - 1  # the open stroke waits: more of it may come
    assert state.carry
    upload(engine, day.station.id, closing)
    assemble(engine, settings)
    with session(engine) as s:
        stored = s.scalars(
            select(InkStroke).where(InkStroke.pen_serial == serial).order_by(InkStroke.id)
        ).all()
        state = s.scalars(select(PenSessionState).where(PenSessionState.pen_serial == serial)).one()
    assert len(stored) == n
    assert stored[-1].flags == "incomplete"
    assert all(r.flags == "" for r in stored[:-1])
    assert state.carry == b""


def test_a_stroke_finished_by_frames_re_sent_after_the_pen_said_hello_again_is_whole(
    tmp_path: Path, day: StationDay
) -> None:
    """Protocol v2: the frames of a session cut mid-stroke come again (in that session)
    after the pen's next hello, in a later upload: the stroke is whole, not incomplete."""
    engine, settings = _engine(tmp_path)
    codes = create_sim_kits(engine, [day.station], contact_sheets=50)
    key = enrol_station(engine, day.station.id, codes[day.station.id])
    serial = day.station.pen_serials[1]
    events = session_events(day.sessions[serial])
    n = len(decode_ink(day.sessions[serial])[0])
    downs = [i for i, e in enumerate(events) if e.summary and e.summary["kind"] == "PenDown"]
    cut = downs[len(downs) // 2] + 3  # inside a stroke
    hello = events[0]
    assert hello.summary is not None and hello.summary["kind"] == "Hello"
    later = dict(hello.summary, pen_session=f"{serial}@later", key="live:later:0")
    again = [BatchEvent(hello.raw, later)]  # the pen said hello on its next connection
    order = [*events[:cut], *again, *events[cut:]]
    for i, e in enumerate(order, start=1):
        assert e.summary is not None
        e.summary["id"] = i
    parts = [order[:cut], order[cut : cut + 1], order[cut + 1 :]]  # three uploads
    bodies: list[bytes] = []
    for part in [*parts, [close_event(len(order) + 1)]]:
        head = parse_batch(bodies[-1]) if bodies else None
        bodies += signed_bodies(
            day.station.id, key, part, first_seq=head.seq + 1 if head else 1,
            prev_hash=batch_hash(head) if head else GENESIS_HASH,
        )  # fmt: skip
    for body in bodies:
        upload(engine, day.station.id, [body])
        assemble(engine, settings)
    with session(engine) as s:
        stored = s.scalars(select(InkStroke).where(InkStroke.pen_serial == serial)).all()
    assert len(stored) == n
    assert all(r.flags == "" for r in stored)
