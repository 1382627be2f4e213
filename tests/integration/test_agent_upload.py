"""The station agent enrols and uploads its journal to a real ingest on loopback.

uvicorn serves the real app on 127.0.0.1 (as in test_ingest_api.py); the agent
talks real HTTP with httpx. ``httpx.MockTransport`` appears only as a named
*fault* in front of the real server, for what it cannot produce on demand (503,
timeouts).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ingest.db import StoredBatch, session
from ingest.stations import create_kits
from pen.batches import parse_batch
from station_agent.closing import UNAVAILABLE_WAIT_S, UPLOAD_INTERVAL_S, UploadLoop, UploadStatus
from station_agent.identity import EnrolError, enrol, key_path, load_or_create_key
from station_agent.journal import EventRecord, Journal
from station_agent.uploader import BATCH_EVENTS, Uploader
from tests.live_ingest import serve_ingest

SID = "01004-0008"


@dataclass
class Centre:
    app: FastAPI
    base: str
    code: str

    def stored(self) -> list[tuple[int, bytes]]:
        with session(self.app.state.engine) as s:
            rows = s.execute(
                select(StoredBatch.seq, StoredBatch.body)
                .where(StoredBatch.station_id == SID)
                .order_by(StoredBatch.seq)
            ).all()
        return [(r[0], bytes(r[1])) for r in rows]


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[Centre]:
    with _serve(tmp_path / "ingest.db") as c:
        yield c


@contextlib.contextmanager
def _serve(db_path: Path) -> Iterator[Centre]:
    with serve_ingest(db_path) as (app, base):
        code = create_kits(app.state.engine, [SID])[SID]
        yield Centre(app, base, code)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    station = tmp_path / "station"
    station.mkdir()
    with Journal.open(station / "journal.sqlite") as j:
        yield j


def _journal_events(journal: Journal, n: int, start: int = 0) -> None:
    events = [
        EventRecord(f"k{i}", "live", "PenDown", "SIM-1", "s", seq=i, frame=bytes([2, i % 256, 7]))
        for i in range(start, start + n)
    ]
    assert journal.record(None, 1000 + start, events) == n


def _enrolled(centre: Centre, journal: Journal, http: httpx.Client) -> Uploader:
    key = load_or_create_key(key_path(journal.path))
    assert enrol(http, SID, centre.code, key).created
    return Uploader(journal, SID, key, centre.base, http, max_events=2, sleep=lambda s: None)


def test_enrol_key_file_and_idempotent_retry(centre: Centre, journal: Journal) -> None:
    path = key_path(journal.path)
    key = load_or_create_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.parent == journal.path.parent
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        first = enrol(http, SID, centre.code, key)
        again = enrol(http, SID, centre.code, load_or_create_key(path))  # same key from disk
        assert first.created and not again.created
        assert again.public_key == first.public_key
        with pytest.raises(EnrolError) as wrong:
            enrol(http, SID, "WRONG", key)
        assert wrong.value.code == "ENROL.403"


def test_upload_whole_journal_byte_identical(centre: Centre, journal: Journal) -> None:
    _journal_events(journal, 5)
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        up = _enrolled(centre, journal, http)
        results = [up.step(2000 + i) for i in range(4)]
    assert [r.status for r in results] == ["accepted", "accepted", "accepted", "idle"]
    assert [r.seq for r in results[:3]] == [1, 2, 3]
    assert journal.backlog() == 0
    stored = centre.stored()
    outbox = [(o.seq, o.body) for o in (up._row("WHERE seq = ?", (s,)) for s in (1, 2, 3)) if o]
    assert stored == outbox  # byte-identical
    raws = [ev.raw for _, body in stored for ev in parse_batch(body).events]
    assert raws == [bytes([2, i, 7]) for i in range(5)]
    up.close()


class _Crash(Exception):
    pass


def test_crash_between_send_and_mark_resends_same_bytes(
    centre: Centre, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    _journal_events(journal, 3)
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        up = _enrolled(centre, journal, http)

        def crash(*args: object) -> None:
            raise _Crash("power cut after the centre stored the batch")

        monkeypatch.setattr(journal, "mark_uploaded", crash)
        with pytest.raises(_Crash):
            up.step(2000)
        monkeypatch.undo()
        up.close()
        assert journal.backlog() == 3
        sent = centre.stored()
        assert [s for s, _ in sent] == [1]

        _journal_events(journal, 2, start=3)  # more events arrive meanwhile
        after = Uploader(journal, SID, up._key, centre.base, http, max_events=2)
        again = after.step(3000)
        assert (again.status, again.seq) == ("duplicate", 1)
        assert centre.stored() == sent  # same seq, same bytes, stored once
        assert [after.step(3001 + i).status for i in range(3)] == ["accepted", "accepted", "idle"]
    assert journal.backlog() == 0
    assert [s for s, _ in centre.stored()] == [1, 2, 3]
    after.close()


def test_503_and_timeout_faults_are_retried_with_backoff(centre: Centre, journal: Journal) -> None:
    _journal_events(journal, 1)
    real = httpx.Client(base_url=centre.base, timeout=5)
    faults = ["503", "timeout", "503"]

    def faulty_centre(request: httpx.Request) -> httpx.Response:
        """FAULT: the first answers are a 503 and a timeout, then the real server answers."""
        if faults:
            fault = faults.pop(0)
            if fault == "timeout":
                raise httpx.ReadTimeout("fault: read timeout", request=request)
            return httpx.Response(503, json={"error": {"code": "HTTP.503", "message": "fault"}})
        r = real.request(request.method, request.url, content=request.content,
                         headers=dict(request.headers))  # fmt: skip
        return httpx.Response(r.status_code, content=r.content, headers=r.headers)

    slept: list[float] = []
    with real, httpx.Client(transport=httpx.MockTransport(faulty_centre)) as faulty:
        key = load_or_create_key(key_path(journal.path))
        enrol(real, SID, centre.code, key)
        up = Uploader(
            journal, SID, key, centre.base, faulty, backoff_s=1.0, sleep=slept.append,
            rand=lambda: 1.0,
        )  # fmt: skip
        result = up.step(2000)
    assert (result.status, result.seq) == ("accepted", 1)
    assert slept == [1.0, 2.0, 4.0]  # exponential; jitter factor (0.5 + rand/2) = 1
    assert journal.backlog() == 0 and len(centre.stored()) == 1
    up.close()


def test_retries_exhausted_leaves_batch_for_later(centre: Centre, journal: Journal) -> None:
    _journal_events(journal, 1)

    def down(request: httpx.Request) -> httpx.Response:
        """FAULT: the centre answers 503 forever."""
        return httpx.Response(503)

    with httpx.Client(base_url=centre.base, timeout=5) as http:
        key = load_or_create_key(key_path(journal.path))
        enrol(http, SID, centre.code, key)
        with httpx.Client(transport=httpx.MockTransport(down)) as dead:
            up = Uploader(journal, SID, key, centre.base, dead, attempts=3, sleep=lambda s: None)
            assert up.step(2000).status == "unavailable"
            up.close()
        assert journal.backlog() == 1
        later = Uploader(journal, SID, key, centre.base, http)
        first_body = later.head()
        result = later.step(9000)  # a later created_ms must not change the bytes
        assert (result.status, result.seq) == ("accepted", 1)
        assert first_body is not None and centre.stored() == [(1, first_body.body)]
        later.close()


def test_gap_resends_missing_batches_from_the_outbox(
    centre: Centre, journal: Journal, tmp_path: Path
) -> None:
    _journal_events(journal, 4)
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        up = _enrolled(centre, journal, http)
        assert [up.step(2000 + i).status for i in range(2)] == ["accepted", "accepted"]
        up.close()
        sent = centre.stored()
    _journal_events(journal, 1, start=4)
    # the centre lost its database (restored empty): it expects seq 1 again
    with (
        _serve(tmp_path / "restored.db") as restored,
        httpx.Client(base_url=restored.base, timeout=5) as http,
    ):
        enrol(http, SID, restored.code, load_or_create_key(key_path(journal.path)))
        again = Uploader(journal, SID, up._key, restored.base, http, max_events=2)
        result = again.step(3000)
        assert (result.status, result.seq) == ("accepted", 3)
        assert restored.stored()[:2] == sent  # the same bytes as first sent
        assert [s for s, _ in restored.stored()] == [1, 2, 3]
        again.close()
    assert journal.backlog() == 0


# --- the upload policy (station_agent.closing.UploadLoop) -------------------------------------

FRAMES_PER_S = 15
"""Frames a pen writing without pause at 100 Hz sends each second (8 dots a frame, plus
pen-down, page and pen-up frames)."""


class PenTime(threading.Event):
    """Simulated time for an :class:`UploadLoop`: a pause advances the clock while the pen
    writes (``writing``) and is recorded; the loop stops after ``pauses`` pauses."""

    def __init__(self, journal: Journal, pauses: int, writing: bool = True) -> None:
        super().__init__()
        self.journal = journal
        self.now = 0.0
        self.limit = pauses
        self.writing = writing
        self.timeline: list[str | float] = []
        """What the loop did: each step's status, and each pause in seconds."""
        self._written = 0

    def monotonic(self) -> float:
        return self.now

    def is_set(self) -> bool:
        return self._pauses() >= self.limit

    def _pauses(self) -> int:
        return sum(1 for x in self.timeline if isinstance(x, float))

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.timeline.append(timeout)
        if self.writing:
            frames = round(timeout * FRAMES_PER_S)
            _journal_events(self.journal, frames, start=10_000 + self._written)
            self._written += frames
        self.now += timeout
        return self.is_set()

    def on_status(self, status: UploadStatus) -> None:
        self.timeline.append(status.last_status)


def _run_loop(centre: Centre, journal: Journal, time: PenTime, http: httpx.Client) -> None:
    key = load_or_create_key(key_path(journal.path))
    enrol(http, SID, centre.code, key)

    def make_uploader() -> Uploader:
        own = Journal.open(journal.path)  # the loop's own connection, as in the agent
        return Uploader(own, SID, key, centre.base, http, attempts=1, sleep=lambda s: None)

    loop = UploadLoop(make_uploader, time, time.on_status, monotonic=time.monotonic)
    loop.run()  # in this thread: the simulated time decides when it stops


def _stored_events(centre: Centre) -> list[int]:
    return [len(parse_batch(body).events) for _, body in centre.stored()]


def test_a_pen_writing_without_pause_uploads_once_per_interval(
    centre: Centre, journal: Journal
) -> None:
    """The agent lingers after a batch that was not full: one batch of an interval's
    writing per interval, not a small batch per round trip."""
    _journal_events(journal, 3)
    time = PenTime(journal, pauses=5)
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        _run_loop(centre, journal, time, http)
    assert time.timeline == ["accepted", UPLOAD_INTERVAL_S] * 5
    per_interval = round(UPLOAD_INTERVAL_S * FRAMES_PER_S)
    assert _stored_events(centre) == [3] + [per_interval] * 4


def test_a_backlog_goes_back_to_back_then_the_loop_lingers(
    centre: Centre, journal: Journal
) -> None:
    """Full batches (a backlog after an outage) do not wait; the first batch that is not
    full does; with nothing left to send the loop looks again after an interval."""
    _journal_events(journal, 2 * BATCH_EVENTS + 7)
    time = PenTime(journal, pauses=2, writing=False)
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        _run_loop(centre, journal, time, http)
    steps = ["accepted", "accepted", "accepted", UPLOAD_INTERVAL_S, "idle", UPLOAD_INTERVAL_S]
    assert time.timeline == steps
    assert _stored_events(centre) == [BATCH_EVENTS, BATCH_EVENTS, 7]
    assert journal.backlog() == 0


def test_an_unreachable_centre_is_tried_again_after_a_longer_pause(
    centre: Centre, journal: Journal
) -> None:
    _journal_events(journal, 3)
    time = PenTime(journal, pauses=1, writing=False)
    with httpx.Client(base_url=centre.base, timeout=5) as http:
        key = load_or_create_key(key_path(journal.path))
        enrol(http, SID, centre.code, key)
    down = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)))

    def make_uploader() -> Uploader:
        own = Journal.open(journal.path)
        return Uploader(own, SID, key, centre.base, down, attempts=1, sleep=lambda s: None)

    with down:
        UploadLoop(make_uploader, time, time.on_status, monotonic=time.monotonic).run()
    assert time.timeline == ["unavailable", UNAVAILABLE_WAIT_S]
    assert journal.backlog() == 3
