"""``plume sim station`` and ``plume sim fleet`` on real ptys, read with plain pyserial."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from hardware_sim.day import simulate_day
from hardware_sim.stations import load_stations
from pen.wire import Hello, InkAssembler, PenUp
from plume.cli import main
from plume.exit_codes import EXIT_OK, EXIT_USAGE
from tests.pen_host import UNIT_MM, Host, pump

STATION = "01016-0001"  # Arbigny: a small station, a short day


def test_sim_station_serves_the_whole_day_on_a_pty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "pen"
    codes: list[int] = []
    argv = ["sim", "station", "--station-id", STATION, "--speed", "0", "--path", str(link)]
    thread = threading.Thread(target=lambda: codes.append(main(argv)))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not link.exists():
            assert time.monotonic() < deadline and thread.is_alive(), "no pty link"
            time.sleep(0.01)
        day = simulate_day(next(s for s in load_stations() if s.id == STATION))
        want = day.pen_ink()
        host = Host()
        with serial.Serial(str(link), timeout=0.05) as line:

            def read() -> bytes:
                return bytes(line.read(max(1, line.in_waiting)))

            pump(read, host, lambda h: bool(h.of(Hello)))
            line.write(host.hello_ack())
            pump(read, host, lambda h: len(h.of(PenUp)) == len(want), timeout=60)  # a loaded CI
    finally:
        thread.join(timeout=10)
    assert codes == [EXIT_OK]
    out = capsys.readouterr().out
    assert str(link) in out and "day over" in out
    assert host.anomalies == []
    assembler = InkAssembler()
    got = assembler.feed(host.received) + assembler.finish()
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert np.abs(a.points[:, :2] - b.points[:, :2]).max() <= UNIT_MM / 2 + 1e-9  # type: ignore[union-attr]
    shifts = {round(a.start_ms - b.start_ms) for a, b in zip(got, want, strict=True)}  # type: ignore[union-attr]
    assert len(shifts) == 1  # the day's timing, moved to start when the host connected
    assert not link.exists()


def test_sim_fleet_prints_each_pens_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "fleet", "--stations", "2", "--speed", "600", "--seconds", "0.3"]) == 0
    out = capsys.readouterr().out.splitlines()
    paths = [line.split()[1] for line in out[:2]]
    assert all(p.startswith("/tmp/plume-pen-SIM") for p in paths)
    assert any("hosts connected" in line for line in out[2:])
    assert not any(Path(p).exists() for p in paths)


def test_bad_station_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "station", "--station-id", "nope"]) == EXIT_USAGE
    assert "no station" in capsys.readouterr().err
