"""The simulated pen on a real pty, read with plain pyserial like any station agent would."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.pty_port import PtyPen
from pen.ink import Ink
from pen.wire import (
    Ack,
    BatchBegin,
    BatchChunk,
    BatchCommit,
    BatchDeleted,
    Hello,
    InkAssembler,
    Message,
    PenUp,
    RequestBatches,
    RequestStatus,
    SetTime,
    Status,
)
from tests.pen_host import Host, assert_same_ink, digits_ink, pump


@pytest.fixture
def port(tmp_path: Path) -> Iterator[PtyPen]:
    with PtyPen(PenConfig(serial="PTY-1", chunk_size=256), path=tmp_path / "pen", speed=0) as p:
        yield p
        assert p.error is None
    assert not (tmp_path / "pen").exists()


def open_host(port: PtyPen) -> serial.Serial:
    return serial.Serial(str(port.path), timeout=0.05)


def reader(line: serial.Serial) -> Callable[[], bytes]:
    """Blocks until at least one byte comes, or the line's timeout."""
    return lambda: line.read(max(1, line.in_waiting))


def pen_clock(port: PtyPen) -> int:
    return port.call(lambda pen, now: pen.clock_ms(now))


def test_a_whole_live_session_decodes_to_the_written_ink(port: PtyPen) -> None:
    host = Host()
    with open_host(port) as line:
        pump(reader(line), host, lambda h: bool(h.of(Hello)))
        assert host.of(Hello)[0].serial == "PTY-1"
        line.write(host.hello_ack())
        pump(reader(line), host, lambda h: bool(h.of(Status)))
        ink = digits_ink("2024", pen_clock(port))
        port.write(ink, retime=False)
        pump(reader(line), host, lambda h: len(h.of(PenUp)) == len(ink))
        line.write(host.encode(RequestStatus()))
        pump(reader(line), host, lambda h: len(h.of(Status)) == 2)
    assert host.anomalies == []
    assembler = InkAssembler()
    strokes = assembler.feed(host.received) + assembler.finish()
    assert_same_ink(Ink(tuple(strokes)), ink)  # type: ignore[arg-type]
    assert all(s.pen_serial == "PTY-1" for s in strokes)  # type: ignore[union-attr]


def test_set_time_from_the_host_sets_the_pen_clock(tmp_path: Path) -> None:
    config = PenConfig(serial="PTY-2", clock_offset_ms=-3_600_000, drift_ppm=200)
    with PtyPen(config, path=tmp_path / "pen", speed=0) as port, open_host(port) as line:
        host = Host()
        pump(reader(line), host, lambda h: bool(h.of(Hello)))
        before = port.call(lambda pen, now: now - pen.clock_ms(now))
        assert 3_599_000 < before <= 3_600_000  # an hour behind (and drifting)
        line.write(host.hello_ack())
        line.write(host.encode(SetTime(port.clock.now_ms())))
        assert port.wait_for(
            lambda pen: abs(pen.clock_ms(port.clock.now_ms()) - port.clock.now_ms()) < 200
        )


def download(line: serial.Serial, host: Host, commit: bool) -> int:
    """Request batches, ack every chunk until the batch ends; commit it if asked."""
    line.write(host.encode(RequestBatches()))

    def answer(msg: Message) -> None:
        if isinstance(msg, BatchChunk):
            line.write(host.encode(Ack(msg.batch_id, msg.index)))

    pump(reader(line), host, lambda h: bool(h.of(BatchBegin)), on_message=answer)
    batch_id: int = host.of(BatchBegin)[-1].batch_id
    pump(reader(line), host, lambda h: h.ended(batch_id), on_message=answer)
    if commit:
        line.write(host.encode(BatchCommit(batch_id)))
        pump(reader(line), host, lambda h: BatchDeleted(batch_id) in h.received)
    return batch_id


def write_offline(port: PtyPen, text: str) -> Ink:
    assert port.wait_for(lambda pen: not pen.connected)
    ink = digits_ink(text, pen_clock(port))
    port.write(ink, retime=False)
    assert port.wait_for(lambda pen: pen.pending_messages == 0)
    return ink


def handshake(port: PtyPen, line: serial.Serial, host: Host) -> None:
    pump(reader(line), host, lambda h: bool(h.of(Hello)))
    line.write(host.hello_ack())
    pump(reader(line), host, lambda h: bool(h.of(Status)))


def test_offline_ink_comes_back_as_a_batch_deleted_only_after_commit(port: PtyPen) -> None:
    ink = write_offline(port, "1")
    assert port.call(lambda pen, now: pen.stored_batches) == (1,)
    host = Host()
    with open_host(port) as line:
        handshake(port, line, host)
        assert host.of(Status)[0].offline_batches == 1
        batch_id = download(line, host, commit=True)
    assert_same_ink(host.batch_ink(batch_id), ink)
    assert port.call(lambda pen, now: pen.stored_batches) == ()


def test_a_download_cut_off_before_commit_is_offered_again(port: PtyPen) -> None:
    ink = write_offline(port, "3")
    first = Host()
    with open_host(port) as line:
        handshake(port, line, first)
        batch_id = download(line, first, commit=False)
    assert port.wait_for(lambda pen: not pen.connected)
    assert port.call(lambda pen, now: pen.stored_batches) == (batch_id,)
    again = Host()
    with open_host(port) as line:
        handshake(port, line, again)
        assert download(line, again, commit=True) == batch_id
    assert again.batch_data(batch_id) == first.batch_data(batch_id)
    assert_same_ink(again.batch_ink(batch_id), ink)
    assert port.connections == 2


def test_stop_removes_the_link_and_a_stale_link_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "pen"
    os.symlink("/nonexistent", path)
    port = PtyPen(SimulatedPen(PenConfig(serial="PTY-3")), path=path).start()
    try:
        assert os.readlink(path).startswith("/dev/pts/")
    finally:
        port.stop()
    assert not path.exists() and not path.is_symlink()


def test_live_ink_is_paced_in_real_time_times_the_speed(tmp_path: Path) -> None:
    with PtyPen(PenConfig(serial="PTY-4"), path=tmp_path / "pen", speed=4) as port:
        with open_host(port) as line:
            host = Host()
            handshake(port, line, host)
            ink = digits_ink("08", pen_clock(port))
            span_s = (ink[-1].end_ms - ink[0].start_ms) / 1000
            arrivals: list[float] = []
            port.write(ink, retime=False)
            pump(
                reader(line),
                host,
                lambda h: len(h.of(PenUp)) == len(ink),
                on_message=lambda m: arrivals.append(time.monotonic()),
            )
        assert port.error is None
    # At 4x the ink cannot come faster than a quarter of the time it took to write.
    assert arrivals[-1] - arrivals[0] >= span_s / 4 * 0.95
    assert span_s > 1


def test_a_stopped_port_starts_again(tmp_path: Path) -> None:
    port = PtyPen(PenConfig(serial="REPLUG-1"), path=tmp_path / "pen", speed=0)
    with port:
        assert port.path.exists()
    assert not port.path.exists()
    with port, serial.Serial(str(port.path), timeout=0.1) as line:
        assert port.wait_for(lambda pen: pen.connected, timeout=5)
        assert line.is_open
