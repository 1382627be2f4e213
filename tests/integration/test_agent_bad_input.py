"""Bad input at the station: a clear warning on the screen and in the log, nothing lost,
nothing accepted that should not be.

Real parts throughout: simulated pens on real ptys (hardware_sim's line and device
faults), the agent as ``plume agent run`` subprocess or :class:`PenLink` in process,
and the real ingest on loopback (tests/live_ingest.py). The screen is the pure fold
of the events the agent printed; the log is the JSON-lines file it wrote.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from hardware_sim.device import PenConfig
from hardware_sim.faults import FaultPlan, FaultyPen
from hardware_sim.pty_port import PtyPen
from pen.batches import parse_batch
from pen.wire import decode_ink
from station_agent import link_events
from station_agent.identity import enrol, key_path, load_or_create_key
from station_agent.journal import Journal
from station_agent.logs import log_link_event, log_upload
from station_agent.pen_link import PenLink, serial_opener
from station_agent.screen import ScreenState, apply, apply_upload
from station_agent.uploader import Uploader
from tests.integration.test_agent_upload import SID, Centre, _journal_events
from tests.integration.test_agent_upload import centre as centre
from tests.integration.test_station_agent import drive, of, pen_clock
from tests.live_ingest import free_port
from tests.pen_host import assert_same_ink, digits_ink

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AgentRun:
    """What one ``plume agent run --events`` printed and logged, and where its journal is."""

    events: list[dict[str, Any]]
    log: list[dict[str, Any]]
    journal: Path

    def screen(self) -> ScreenState:
        """The president's screen after these events (the same fold the live screen uses)."""

        def step(state: ScreenState, e: dict[str, Any]) -> ScreenState:
            fields = {k: v for k, v in e.items() if k != "event"}
            if e["event"] == "Upload":
                return apply_upload(state, fields["backlog"], fields["last_status"],
                                    fields["last_ack_seq"], fields["last_ack_ms"])  # fmt: skip
            return apply(state, getattr(link_events, e["event"])(**fields))

        return reduce(step, self.events, ScreenState())

    def warned(self) -> list[str]:
        return [line["code"] for line in self.log if line["event"] == "agent.warning"]


def run_agent(
    centre: Centre, tmp_path: Path, port: PtyPen, kit: str, act: Callable[[Journal], bool]
) -> AgentRun:
    """Enrol, run the agent on ``port`` until ``act(journal)`` is true and the backlog is
    empty, then stop it with SIGTERM."""
    journal = tmp_path / "station" / "journal.sqlite"
    journal.parent.mkdir()
    with httpx.Client(base_url=centre.base, timeout=10) as http:
        enrol(http, SID, centre.code, load_or_create_key(key_path(journal)))
    cmd = [sys.executable, "-m", "plume", "agent", "run", "--port", str(port.path), "--events"]
    cmd += ["--journal", str(journal), "--centre", centre.base, "--station", SID, "--kit", kit]
    out = tmp_path / "events.jsonl"
    with out.open("w") as stdout:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=stdout)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the agent stopped"
            assert time.monotonic() < deadline, "the scenario did not finish in 60 s"
            if journal.exists():
                with Journal.open(journal) as j:
                    if act(j) and j.backlog() == 0:
                        break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    log_file = journal.parent / "agent.log"  # the default: beside the journal
    return AgentRun(
        [json.loads(line) for line in out.read_text().splitlines()],
        [json.loads(line) for line in log_file.read_text().splitlines()],
        journal,
    )


def centre_events(centre: Centre) -> list[tuple[bytes, dict[str, Any]]]:
    return [
        (ev.raw, ev.summary or {}) for _, body in centre.stored() for ev in parse_batch(body).events
    ]


def test_garbage_on_the_line_is_warned_kept_as_evidence_and_sent(
    centre: Centre, tmp_path: Path
) -> None:
    plan = FaultPlan.parse("replug:frames=6 garbage=24; corrupt:frames=12", seed=3)
    pen = FaultyPen(PenConfig(serial="KIT-1"), time.time_ns() // 1_000_000, plan)
    with PtyPen(pen, path=tmp_path / "pen", speed=0) as port:
        written: list[Any] = []
        seen: list[int] = []

        def act(j: Journal) -> bool:
            if not written and port.call(lambda p, now: p.accepted):
                written.append(digits_ink("4207", pen_clock(port)))
                port.write(written[0], retime=False)
            if not written or port.call(lambda p, now: p.pending_messages):
                return False
            seen.append(j.stats().raw_bytes)  # done once the line is quiet for 0.5 s
            return len(seen) > 5 and seen[-1] == seen[-6]

        run = run_agent(centre, tmp_path, port, "KIT-1", act)
    assert len(pen.fired) == 2, "both line faults fired"
    codes = {a["code"] for a in run.events if a["event"] == "Anomaly"}
    assert "WIRE.102" in codes  # the damaged frames, as CorruptFrame
    assert "WIRE.102" in run.screen().warnings and "WIRE.102" in run.warned()
    with Journal.open(run.journal) as j:
        damaged = j.entries("code='WIRE.102'")
        assert damaged and all(e.event.frame for e in damaged)  # the bytes kept as evidence
        keys = sorted(e.event.key for e in j.entries())
    at_centre = centre_events(centre)
    assert sorted(str(s["key"]) for _, s in at_centre) == keys  # everything, anomalies too
    evidence = {bytes(r) for r, s in at_centre if s["code"] == "WIRE.102"}
    assert evidence == {e.event.frame for e in damaged}


def test_a_pen_of_another_station_is_warned_about_and_its_ink_kept_flagged(
    centre: Centre, tmp_path: Path
) -> None:
    with PtyPen(PenConfig(serial="STRANGER-7"), path=tmp_path / "pen", speed=0) as port:
        ink: list[Any] = []

        def act(j: Journal) -> bool:
            if not ink and port.call(lambda p, now: p.accepted):
                ink.append(digits_ink("13", pen_clock(port)))
                port.write(ink[0], retime=False)
            strokes = len(j.entries("kind='PenUp' AND source='live'"))
            return bool(ink) and strokes == len(ink[0])

        run = run_agent(centre, tmp_path, port, "KIT-1", act)
    assert run.screen().warnings == ("AGENT.102",)
    assert set(run.warned()) == {"AGENT.102"}  # the hello, and the agent's UnknownPen note
    connected = [line for line in run.log if line["event"] == "pen.connected"]
    assert connected[0]["pen_serial"] == "STRANGER-7" and connected[0]["in_kit"] is False
    with Journal.open(run.journal) as j:
        got, anomalies = decode_ink(j.stream("STRANGER-7"))
        pen_events = j.entries("pen_serial='STRANGER-7'")
    assert anomalies == [] and pen_events and all(e.event.flagged for e in pen_events)
    assert_same_ink(got, ink[0])  # nothing dropped
    from_pen = [s for _, s in centre_events(centre) if s["pen_serial"] == "STRANGER-7"]
    assert len(from_pen) == len(pen_events) and all(s["flagged"] is True for s in from_pen)


def test_a_replayed_old_batch_marks_nothing_wrongly_and_warns(
    centre: Centre, tmp_path: Path
) -> None:
    station = tmp_path / "station"
    station.mkdir()
    backup = tmp_path / "backup"
    log_lines: list[str] = []
    log = structlog.wrap_logger(
        structlog.PrintLogger(_Lines(log_lines)),
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
    )
    dead = f"http://127.0.0.1:{free_port()}"
    with httpx.Client(timeout=5) as http, Journal.open(station / "journal.sqlite") as j:
        key = load_or_create_key(key_path(j.path))
        with httpx.Client(base_url=centre.base, timeout=5) as enrolling:
            enrol(enrolling, SID, centre.code, key)
        _journal_events(j, 3)
        offline = Uploader(j, SID, key, dead, http, attempts=1, sleep=lambda s: None)
        assert offline.step(1000).status == "unavailable"  # batch 1 built, not sent
        offline.close()
        shutil.copytree(station, backup)  # the laptop is backed up now
        up = Uploader(j, SID, key, centre.base, http)
        assert up.step(2000).status == "accepted"
        _journal_events(j, 2, start=3)
        assert (up.step(3000).status, up.step(3001).status) == ("accepted", "idle")
        up.close()
    before = centre.stored()
    assert [s for s, _ in before] == [1, 2]

    shutil.rmtree(station)
    shutil.copytree(backup, station)  # ... and restored later: batch 1 looks unsent
    state = ScreenState()
    with httpx.Client(timeout=5) as http, Journal.open(station / "journal.sqlite") as j:
        assert j.backlog() == 3
        up = Uploader(j, SID, key, centre.base, http)
        replay = up.step(4000)
        state = apply_upload(state, j.backlog(), replay.status, replay.seq, 4000)
        log_upload(log, replay.status, replay.seq, replay.code, j.backlog())
        assert (replay.status, replay.seq) == ("replay", 1)
        assert j.backlog() == 0  # batch 1 is at the centre, byte for byte: rightly marked
        _journal_events(j, 2, start=100)  # new ink on the restored laptop
        fork = up.step(5000)  # its batch 2 is not the centre's batch 2
        state = apply_upload(state, j.backlog(), fork.status, fork.seq, None)
        log_upload(log, fork.status, fork.seq, fork.code, j.backlog())
        assert (fork.status, fork.code) == ("refused", "PEN.703")
        assert j.backlog() == 2  # not marked: kept for the centre to sort out
        up.close()
    assert centre.stored() == before  # nothing accepted that should not be
    assert state.warnings == ("AGENT.203", "AGENT.202")
    warned = [json.loads(line) for line in log_lines]
    assert [(w["code"], w.get("centre_code")) for w in warned if w["event"] == "agent.warning"] == [
        ("AGENT.203", ""),
        ("AGENT.202", "PEN.703"),
    ]


class _Lines:
    """A file-like sink for structlog's PrintLogger that keeps each line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, text: str) -> None:
        if text.strip():
            self.lines.append(text.strip())

    def flush(self) -> None:
        pass


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.db") as j:
        yield j


def test_a_pen_clock_in_1970_is_warned_recorded_and_corrected(
    tmp_path: Path, journal: Journal
) -> None:
    now = time.time_ns() // 1_000_000
    plan = FaultPlan.parse("clock_reset:at_ms=4000 to_ms=0")  # and again, mid-session
    pen = FaultyPen(PenConfig(serial="KIT-2", clock_offset_ms=-now), now, plan)
    log_lines: list[str] = []
    log = structlog.wrap_logger(
        structlog.PrintLogger(_Lines(log_lines)),
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
    )
    with PtyPen(pen, path=tmp_path / "pen", speed=1) as port:
        link = PenLink(journal, serial_opener(str(port.path)), known_pens={"KIT-2"})
        events = drive(link, lambda ev: bool(of(ev, link_events.Connected)))
        hello = of(events, link_events.Connected)[0]
        assert abs(hello.clock_offset_ms - now) < 60_000  # the pen thought it was 1970
        assert port.wait_for(
            lambda p: abs(p.clock_ms(port.clock.now_ms()) - time.time() * 1000) < 1000
        )
        assert port.wait_for(lambda p: bool(p.fired), timeout=10)  # the clock resets again
        reset = digits_ink("7", pen_clock(port))
        assert reset[0].start_ms < 60_000  # 1970 again
        port.write(reset, retime=False)
        events += drive(link, lambda ev: link.strokes == len(reset), timeout=20)
        later = digits_ink("8", pen_clock(port))  # after the agent set the clock again
        port.write(later, retime=False)
        events += drive(link, lambda ev: link.strokes == len(reset) + len(later), timeout=20)
        link.close()
    for event in events:
        log_link_event(log, event)
    state = reduce(apply, events, ScreenState())
    assert state.warnings == ("AGENT.104",)  # said once on screen (same code twice in a row)
    warned = [json.loads(line) for line in log_lines]
    assert [w["code"] for w in warned if w["event"] == "agent.warning"] == ["AGENT.104"] * 2
    far, jump = journal.entries("kind='ClockFarOff'"), journal.entries("kind='ClockJump'")
    assert len(far) == 1 and len(jump) == 1
    jump_offset = json.loads(jump[0].event.detail)["offset_ms"]
    got, _ = decode_ink(journal.stream("KIT-2"))
    in_1970 = [s for s in got if s.start_ms < 60_000]
    corrected = [s for s in got if abs(s.start_ms - time.time() * 1000) < 120_000]
    assert len(in_1970) == len(reset) and len(corrected) == len(later)  # nothing lost
    for s in in_1970:  # the recorded offset puts the 1970 strokes back on the laptop's clock
        assert abs(s.start_ms + jump_offset - time.time() * 1000) < 120_000
