"""The station agent against simulated pens on real ptys and pensim:// URLs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.protocol_pensim import Serial as PensimSerial
from hardware_sim.pty_port import PtyPen
from hardware_sim.url_handler import open_pen
from pen.wire import Ack, Received, StreamDecoder, decode_ink
from station_agent.journal import Journal
from station_agent.pen_link import (
    Anomaly,
    BatchSaved,
    Connected,
    Disconnected,
    LinkEvent,
    PenLink,
    SerialLike,
    serial_opener,
)
from tests.pen_host import assert_same_ink, digits_ink

ROOT = Path(__file__).resolve().parents[2]


def drive(
    link: PenLink, until: Callable[[list[LinkEvent]], bool], timeout: float = 10.0
) -> list[LinkEvent]:
    """Step the link until ``until(events so far)`` holds."""
    events: list[LinkEvent] = []
    deadline = time.monotonic() + timeout
    while not until(events):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {events[-10:]}")
        events += link.step()
        if not link.connected:
            time.sleep(0.005)  # backing off: the link is not reading
    return events


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def of(events: list[LinkEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def pen_clock(port: PtyPen) -> int:
    return port.call(lambda pen, now: pen.clock_ms(now))


def write_offline(port: PtyPen, text: str) -> Any:
    assert port.wait_for(lambda pen: not pen.connected)
    ink = digits_ink(text, pen_clock(port))
    port.write(ink, retime=False)
    assert port.wait_for(lambda pen: pen.pending_messages == 0)
    return ink


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.db") as j:
        yield j


class AckAuditor:
    """A port wrapper that checks, for every Ack the agent sends, that the chunk is on disk."""

    def __init__(self, port: SerialLike, db_path: Path) -> None:
        self.port = port
        self.decoder = StreamDecoder()
        self.db = sqlite3.connect(db_path)  # a second reader, as a crash would leave things
        self.acks: list[tuple[int, int, bool]] = []

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    def read(self, size: int = 1) -> bytes:
        return self.port.read(size)

    def write(self, data: bytes) -> int | None:
        for ev in self.decoder.feed(data):
            if isinstance(ev, Received) and isinstance(ev.message, Ack):
                row = self.db.execute(
                    "SELECT 1 FROM batch_chunks WHERE batch_id=? AND idx=?",
                    (ev.message.batch_id, ev.message.index),
                ).fetchone()
                self.acks.append((ev.message.batch_id, ev.message.index, row is not None))
        return self.port.write(data)

    def close(self) -> None:
        self.port.close()
        self.db.close()


def test_live_session_is_journaled_and_decodes_to_the_written_ink(
    tmp_path: Path, journal: Journal
) -> None:
    config = PenConfig(serial="AG-1", clock_offset_ms=-3_600_000)
    with PtyPen(config, path=tmp_path / "pen", speed=0) as port:
        link = PenLink(journal, serial_opener(str(port.path)), known_pens={"AG-1"})
        events = drive(link, lambda ev: bool(of(ev, Connected)))
        hello = of(events, Connected)[0]
        assert hello.known and 3_599_000 < hello.clock_offset_ms <= 3_600_100
        assert "AGENT.104" in [a.code for a in of(events, Anomaly)]  # clock an hour off
        # SetTime put the pen on the laptop's clock.
        assert port.wait_for(
            lambda pen: abs(pen.clock_ms(int(time.time() * 1000)) - time.time() * 1000) < 500
        )
        ink = digits_ink("2024", pen_clock(port))
        port.write(ink, retime=False)
        drive(link, lambda ev: link.strokes == len(ink))
        link.close()
        assert port.error is None
    got, anomalies = decode_ink(journal.stream("AG-1"))
    assert anomalies == []
    assert_same_ink(got, ink)
    # The raw bytes of the line are kept too, and decode to the same ink.
    raw_ink, _ = decode_ink(journal.raw_bytes(link.connection_id or 0))
    assert_same_ink(raw_ink, ink)
    clock = journal.entries("kind='ClockSet'")
    assert len(clock) == 1 and '"offset_ms": 3' in clock[0].event.detail


def test_offline_batch_acked_after_durable_write_committed_and_deleted(
    tmp_path: Path, journal: Journal
) -> None:
    config = PenConfig(serial="AG-2", chunk_size=64)
    with PtyPen(config, path=tmp_path / "pen", speed=0) as port:
        ink = write_offline(port, "17")
        assert port.call(lambda pen, now: pen.stored_batches) == (1,)
        auditors: list[AckAuditor] = []

        def opener() -> SerialLike:
            auditors.append(AckAuditor(serial_opener(str(port.path))(), journal.path))
            return auditors[-1]

        link = PenLink(journal, opener)
        events = drive(link, lambda ev: bool(of(ev, BatchSaved)))
        assert port.wait_for(lambda pen: pen.stored_batches == ())
        drive(link, lambda ev: bool(journal.entries("kind='BatchDeleted'")))
        link.close()
    acks = auditors[0].acks
    assert len(acks) >= 10 and all(durable for _, _, durable in acks)
    assert of(events, BatchSaved)[0].already_saved is False
    got, anomalies = decode_ink(journal.stream("AG-2", "batch"))
    assert anomalies == []
    assert_same_ink(got, ink)
    assert journal.stats().batches == 1


def agent(port: Path, db: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "plume", "agent", "run", "--port", str(port)]
    return subprocess.Popen(
        [*cmd, "--journal", str(db), "--events"], cwd=ROOT, stdout=subprocess.DEVNULL
    )


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def test_agent_killed_mid_download_gets_the_batch_again_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    config = PenConfig(serial="AG-3", chunk_size=16, ack_timeout_ms=2000)
    with PtyPen(config, path=tmp_path / "pen", speed=0) as port:
        ink = write_offline(port, "31415")
        proc = agent(port.path, db)
        try:
            wait_until(lambda: count(db, "SELECT COUNT(*) FROM batch_chunks") >= 5)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        finally:
            proc.kill()
        assert count(db, "SELECT COUNT(*) FROM batches") == 0, "killed before the commit"
        assert port.wait_for(lambda pen: not pen.connected)
        assert port.call(lambda pen, now: pen.stored_batches) == (1,)
        proc = agent(port.path, db)
        try:
            assert port.wait_for(lambda pen: pen.stored_batches == (), timeout=20)
            wait_until(lambda: count(db, "SELECT COUNT(*) FROM events WHERE kind='BatchDeleted'"))
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 0
        assert port.connections == 2
    with Journal.open(db) as journal:
        assert journal.integrity_check() == "ok"
        assert journal.stats().batches == 1
        got, anomalies = decode_ink(journal.stream("AG-3", "batch"))
        keys = [e.event.key for e in journal.entries("source='batch'")]
    assert anomalies == []
    assert_same_ink(got, ink)
    assert len(keys) == len(set(keys))
    status = subprocess.run(
        [sys.executable, "-m", "plume", "agent", "status", "--journal", str(db), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert '"batches": 1' in status.stdout and '"integrity": "ok"' in status.stdout


class Noisy:
    """A pensim port with line noise injected into the n-th read."""

    def __init__(self, port: PensimSerial, noise: bytes, at_read: int) -> None:
        self.port, self.noise, self.at_read, self.reads = port, noise, at_read, 0

    @property
    def in_waiting(self) -> int:
        return int(self.port.in_waiting)

    def read(self, size: int = 1) -> bytes:
        self.reads += 1
        data = bytes(self.port.read(size))
        return data + self.noise if self.reads == self.at_read else data

    def write(self, data: bytes) -> int | None:
        return int(self.port.write(data))

    def close(self) -> None:
        self.port.close()


def test_garbage_on_the_line_is_a_stored_anomaly_and_no_ink_is_lost(journal: Journal) -> None:
    port = open_pen("pensim://AG-4", timeout=0.02, do_not_open=True)
    noise = b"\x00\x17garbage\x02"

    def opener() -> SerialLike:
        port.open()
        return Noisy(port, noise, at_read=3)

    link = PenLink(journal, opener)
    drive(link, lambda ev: bool(of(ev, Connected)))
    assert port.pen is not None
    ink = digits_ink("88", port.pen.clock_ms(port.clock.now_ms()))
    port.write_ink(ink, retime=False)
    events = drive(link, lambda ev: link.strokes == len(ink))
    link.close()
    assert [a.code for a in of(events, Anomaly)] == ["WIRE.101"]
    garbage = journal.entries("code='WIRE.101'")
    assert len(garbage) == 1 and garbage[0].event.frame == noise
    got, _ = decode_ink(journal.stream("AG-4"))
    assert_same_ink(got, ink)


def test_a_pen_from_another_kit_is_warned_about_and_its_data_kept_flagged(
    journal: Journal,
) -> None:
    port = open_pen("pensim://STRANGER-9", timeout=0.02, do_not_open=True)

    def opener() -> SerialLike:
        port.open()
        return port  # type: ignore[no-any-return]

    link = PenLink(journal, opener, known_pens={"AG-1", "AG-2"})
    events = drive(link, lambda ev: bool(of(ev, Connected)))
    assert of(events, Connected)[0].known is False
    assert "AGENT.102" in [a.code for a in of(events, Anomaly)]
    assert port.pen is not None
    ink = digits_ink("5", port.pen.clock_ms(port.clock.now_ms()))
    port.write_ink(ink, retime=False)
    drive(link, lambda ev: link.strokes == len(ink))
    link.close()
    stored = journal.entries("pen_serial='STRANGER-9' AND source='live'")
    assert stored and all(e.event.flagged for e in stored)
    assert_same_ink(decode_ink(journal.stream("STRANGER-9"))[0], ink)


def test_the_link_reconnects_when_the_port_comes_back(tmp_path: Path, journal: Journal) -> None:
    pen = SimulatedPen(PenConfig(serial="AG-5"), time.time_ns() // 1_000_000)
    link = PenLink(journal, serial_opener(str(tmp_path / "pen")))
    try:
        with PtyPen(pen, path=tmp_path / "pen", speed=0):
            drive(link, lambda ev: bool(of(ev, Connected)))
        # The cable is pulled: the port disappears.
        events = drive(link, lambda ev: bool(of(ev, Disconnected)))
        assert not link.connected
        with PtyPen(pen, path=tmp_path / "pen", speed=0):  # plugged in again
            events += drive(link, lambda ev: bool(of(ev, Connected)))
    finally:
        link.close()
    assert len(of(events, Disconnected)) == 1  # said once, not at every retry
    assert journal.stats().connections == 2


def test_what_the_pen_sent_while_the_agent_was_down_is_read_by_the_next_one(
    tmp_path: Path, journal: Journal
) -> None:
    with PtyPen(PenConfig(serial="AG-6"), path=tmp_path / "pen", speed=0) as port:
        first = PenLink(journal, serial_opener(str(port.path)))
        hello = of(drive(first, lambda ev: bool(of(ev, Connected))), Connected)[0]
        session = journal.entries("kind='Hello'")[-1].event.pen_session
        ink = digits_ink("905", pen_clock(port))
        port.write(ink, retime=False)
        # the agent reads nothing more and dies: the ink waits in the pty
        assert port.wait_for(lambda pen: pen.pending_messages == 0)
        time.sleep(0.2)
        first.close()
        assert port.wait_for(lambda pen: not pen.connected)
        second = PenLink(journal, serial_opener(str(port.path)))
        drive(second, lambda ev: second.strokes == len(ink) and bool(of(ev, Connected)))
        second.close()
    assert hello.pen_serial == "AG-6"
    ink_events = journal.entries("kind IN ('PenDown', 'Dots', 'PenUp') AND source='live'")
    assert {e.event.pen_session for e in ink_events} == {session}  # the first pen session
    assert {e.connection_id for e in ink_events} == {second.connection_id}
    got, anomalies = decode_ink(journal.stream("AG-6"))
    assert anomalies == []
    assert_same_ink(got, ink)
