"""Record a simulated pen on a real pty with pyserial, replay it onto a pty at 0x, 1x and 10x."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from hardware_sim.device import PenConfig
from hardware_sim.pty_port import PtyPen
from hardware_sim.record import (
    Recorder,
    Recording,
    RecordingError,
    ReplayPty,
    record_port,
    replay,
)
from pen.inkml import from_inkml
from pen.wire import HelloAck, LiveAck, PenUp, Received, decode_stream
from tests.pen_host import assert_same_ink, digits_ink


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        threading.Event().wait(0.005)


def pen_ups(data: bytes) -> int:
    events = decode_stream(data)
    return sum(isinstance(e, Received) and isinstance(e.message, PenUp) for e in events)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Recording, object]]:
    """Two digits written at 1x on a PtyPen, recorded by a pyserial host that answers hello."""
    path = tmp_path_factory.mktemp("rec") / "pen"
    with PtyPen(PenConfig(serial="REC-1"), path=path, speed=1) as pen:
        with serial.Serial(str(path), timeout=0.02) as line:
            recorder, stop = Recorder(str(path)), threading.Event()
            thread = threading.Thread(
                target=record_port, args=(line, recorder), kwargs={"stop": stop}
            )
            thread.start()
            try:
                assert pen.wait_for(lambda p: p.accepted)
                ink = digits_ink("12", pen.call(lambda p, now: p.clock_ms(now)))
                pen.write(ink, retime=False)
                wait_until(lambda: pen_ups(recorder.recording().pen_bytes()) == len(ink))
            finally:
                stop.set()
                thread.join(timeout=5)
        assert pen.error is None
    yield recorder.recording(), ink


def receive(replay_port: ReplayPty, n_bytes: int) -> Recording:
    """A pyserial host reads the replayed pty until ``n_bytes`` came; arrivals timed."""
    recorder = Recorder("replay")
    with serial.Serial(str(replay_port.path), timeout=0.01) as line:
        deadline = time.monotonic() + 10
        while recorder.n_bytes < n_bytes and time.monotonic() < deadline:
            recorder.add(line.read(max(1, line.in_waiting)))
    assert replay_port.error is None
    return recorder.recording()


def arrivals(rec: Recording, ends: list[int]) -> list[float]:
    """When the byte just before each offset in ``ends`` had arrived."""
    out, total, i = [], 0, 0
    for chunk in rec.chunks:
        total += len(chunk.data)
        while i < len(ends) and ends[i] <= total:
            out.append(chunk.t_s)
            i += 1
    return out


def test_the_recording_holds_the_written_ink_and_the_host_answer(recorded: tuple) -> None:
    rec, ink = recorded
    decoded, anomalies = rec.decode_ink()
    assert anomalies == []
    assert_same_ink(decoded, ink)
    host = [e for c in rec.chunks if c.direction == "host" for e in decode_stream(c.data)]
    answered = [type(e.message) for e in host if isinstance(e, Received)]
    assert len(answered) == len(host) and answered.count(HelloAck) == 1  # then its LiveAcks
    assert set(answered) == {HelloAck, LiveAck}


def test_save_writes_plumerec_and_inkml_and_load_reads_it_back(
    recorded: tuple, tmp_path: Path
) -> None:
    rec, ink = recorded
    path, inkml = rec.save(tmp_path / "session.plumerec")
    assert inkml == tmp_path / "session.inkml"
    head = json.loads(path.read_text().splitlines()[0])
    assert (head["format"], head["version"]) == ("plumerec", 1)
    assert Recording.load(path) == Recording(
        tuple(type(c)(round(c.t_s, 6), c.direction, c.data) for c in rec.chunks), rec.header
    )
    assert_same_ink(from_inkml(inkml.read_text()).ink, ink)


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "new.plumerec"
    bad.write_text('{"format": "plumerec", "version": 2}\n')
    with pytest.raises(RecordingError, match="version 2"):
        Recording.load(bad)
    (tmp_path / "x").write_text("hello\n")
    with pytest.raises(RecordingError, match="not a pen recording"):
        Recording.load(tmp_path / "x")


def test_replayed_twice_flat_out_gives_identical_bytes_and_ink(
    recorded: tuple, tmp_path: Path
) -> None:
    rec, _ = recorded
    runs = []
    for n in range(2):
        with ReplayPty(rec, tmp_path / f"replay{n}", speed=0) as port:
            got = receive(port, len(rec.pen_bytes()))
            assert port.done.wait(5)
        assert not (tmp_path / f"replay{n}").exists()
        runs.append(got)
    assert runs[0].pen_bytes() == runs[1].pen_bytes() == rec.pen_bytes()
    assert runs[0].decode_ink() == runs[1].decode_ink() == rec.decode_ink()


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_replay_at_speed_n_scales_the_arrival_times(
    recorded: tuple, tmp_path: Path, speed: float
) -> None:
    rec, _ = recorded
    pen_chunks = [c for c in rec.chunks if c.direction == "pen"]
    ends, total = [], 0
    for c in pen_chunks:
        total += len(c.data)
        ends.append(total)
    with ReplayPty(rec, tmp_path / "replay", speed=speed) as port:
        got = receive(port, total)
    assert got.pen_bytes() == rec.pen_bytes()
    assert got.decode_ink() == rec.decode_ink()
    came = arrivals(got, ends)
    want = [(c.t_s - pen_chunks[0].t_s) / speed for c in pen_chunks]
    span = want[-1]
    assert span > 0.9 / speed  # the ink took about a second to write
    # Pacing: no chunk comes before its scaled time (a load spike can only delay,
    # so lateness is bounded loosely; speed is measured in bench/, not here).
    early = max((w - (a - came[0])) for a, w in zip(came, want, strict=True))
    assert early < 0.25  # a late first chunk makes the next look early by as much
    assert came[-1] - came[0] < span + 2.0


def test_replay_to_a_pyserial_url(recorded: tuple) -> None:
    rec, _ = recorded
    with serial.serial_for_url("loop://", timeout=0.1) as port:
        sent = replay(rec, port.write, speed=0)
        assert port.read(sent) == rec.pen_bytes()
    with pytest.raises(ValueError, match="speed"):
        replay(rec, port.write, speed=-1)
