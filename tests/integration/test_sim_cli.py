"""``plume sim record`` and ``plume sim replay`` on real ptys, read with plain pyserial."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from hardware_sim.device import PenConfig
from hardware_sim.pty_port import PtyPen
from hardware_sim.record import Recording
from plume.cli import main
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.pen_host import assert_same_ink, digits_ink


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met in {timeout} s"
        threading.Event().wait(0.005)


def run_in_thread(argv: list[str]) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(argv)))
    thread.start()
    return thread, codes


def test_record_then_replay_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "session.plumerec"
    with PtyPen(PenConfig(serial="CLI-1"), path=tmp_path / "pen", speed=0) as pen:
        thread, codes = run_in_thread(
            ["sim", "record", "--port", str(tmp_path / "pen"), "--out", str(out), "--seconds", "1"]
        )
        assert pen.wait_for(lambda p: p.accepted)  # the recorder answered the hello
        ink = digits_ink("42", pen.call(lambda p, now: p.clock_ms(now)))
        pen.write(ink, retime=False)
        thread.join(timeout=10)
    assert codes == [EXIT_OK]
    rec = Recording.load(out)
    decoded, anomalies = rec.decode_ink()
    assert anomalies == []
    assert_same_ink(decoded, ink)
    assert out.with_suffix(".inkml").exists()

    link = tmp_path / "replay"
    thread, codes = run_in_thread(["sim", "replay", str(out), "--speed", "0", "--port", str(link)])
    wait_until(link.exists)
    got = bytearray()
    with serial.Serial(str(link), timeout=0.02) as line:
        deadline = time.monotonic() + 5
        while len(got) < len(rec.pen_bytes()) and time.monotonic() < deadline:
            got += line.read(max(1, line.in_waiting))
    thread.join(timeout=5)  # the command ends once the host closed the port
    assert not thread.is_alive() and codes == [EXIT_OK]
    assert bytes(got) == rec.pen_bytes()
    assert not link.exists()


def test_record_from_a_pensim_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.plumerec"
    argv = ["sim", "record", "--port", "pensim://URL-1", "--out", str(out), "--seconds", "0.2"]
    assert main(argv) == EXIT_OK
    assert "recorded" in capsys.readouterr().out
    rec = Recording.load(out)
    assert rec.decode_ink()[1] == []
    assert [c.direction for c in rec.chunks][:2] == ["pen", "host"]  # hello, then the answer


def test_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope")
    assert main(["sim", "record", "--port", missing, "--out", str(tmp_path / "x")]) == EXIT_FAILED
    assert "cannot open" in capsys.readouterr().err
    assert main(["sim", "replay", missing]) == EXIT_FAILED
    assert "cannot read recording" in capsys.readouterr().err
    assert main(["sim", "replay", missing, "--speed", "-1"]) == EXIT_USAGE
    assert main(["sim", "pen", "--faults", "melt:p=1"]) == EXIT_USAGE
    assert "unknown fault 'melt'" in capsys.readouterr().err
    assert main(["sim"]) == EXIT_USAGE
