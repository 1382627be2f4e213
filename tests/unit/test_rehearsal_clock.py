import time

import pytest

from station_agent.clock import RehearsalClock


def test_reads_t0_at_wall0_and_runs_speed_times_faster() -> None:
    wall0 = time.time()
    clock = RehearsalClock(1_318_140_000_000, wall0, 500.0)
    first = clock()
    assert 1_318_140_000_000 <= first < 1_318_140_000_000 + 500 * 1000  # < 1 s after wall0
    time.sleep(0.05)
    assert clock() - first >= 500 * 50 * 0.9  # 50 ms of wall time is 25 s of day


def test_before_wall0_the_day_has_not_started() -> None:
    clock = RehearsalClock(1_000_000, time.time() + 10, 100.0)
    assert clock() < 1_000_000 - 100 * 9_000


def test_parse_round_trips_and_refuses_nonsense() -> None:
    clock = RehearsalClock.parse("1318140000000,1795000000.5,400")
    assert clock == RehearsalClock(1_318_140_000_000, 1_795_000_000.5, 400.0)
    for bad in ("", "1,2", "a,b,c", "1,2,3,4"):
        with pytest.raises(ValueError, match="T0_MS,WALL0_S,SPEED"):
            RehearsalClock.parse(bad)
    with pytest.raises(ValueError, match="runs forward"):
        RehearsalClock.parse("1,2,0")
