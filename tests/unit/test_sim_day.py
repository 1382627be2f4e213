"""A polling station's simulated day: arrivals, contact forms, the PV, the pen's bytes."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_sim.day import (
    CONTACT_RATE,
    HOUR_MS,
    OPENING_MS,
    StationDay,
    arrival_times,
    simulate_day,
)
from hardware_sim.scenarios import CLOSING_MS
from hardware_sim.stations import load_stations
from pen.forms import assign, load_form
from pen.wire import decode_ink

STATION = "01004-0008"  # Ambérieu-en-Bugey, 717 registered voters


@pytest.fixture(scope="module")
def day() -> StationDay:
    station = next(s for s in load_stations() if s.id == STATION)
    return simulate_day(station, "pen_correction", seed=5)


def test_about_one_voter_in_five_fills_a_contact_form(day: StationDay) -> None:
    n = day.voters
    assert n == day.pv.true_counts.signatures  # the PV counts the same voters
    sd = (CONTACT_RATE * (1 - CONTACT_RATE) / n) ** 0.5
    assert abs(len(day.contacts) / n - CONTACT_RATE) < 4 * sd
    assert len({c.writer_id for c in day.contacts}) > 5  # voters write in different hands
    assert len({c.page for c in day.contacts}) == len(day.contacts)  # a fresh sheet each


def test_arrivals_fall_in_the_opening_hours_with_morning_and_evening_peaks() -> None:
    t = arrival_times(20_000, np.random.default_rng(1))
    assert np.all(t >= OPENING_MS) and np.all(t < CLOSING_MS) and np.all(np.diff(t) >= 0)
    per_hour = np.histogram((t - OPENING_MS) / HOUR_MS, bins=10, range=(0, 10))[0]
    morning, lunch, evening = per_hour[1:3].mean(), per_hour[4:6].mean(), per_hour[8:9].mean()
    assert morning > 1.3 * lunch and evening > 1.3 * lunch  # 10-12 h and 17-18 h are busy
    assert per_hour.min() > 0.02 * len(t)  # and nobody keeps the station empty for an hour


def test_contact_forms_follow_the_arrivals_one_at_a_time(day: StationDay) -> None:
    ends = [c.ink[-1].end_ms for c in day.contacts]
    for c, prev_end in zip(day.contacts[1:], ends, strict=False):
        assert c.ink[0].start_ms > prev_end  # one desk, one pen
    for c in day.contacts:
        assert OPENING_MS <= c.arrival_ms < c.ink[0].start_ms
    assert day.ink[0].start_ms >= OPENING_MS
    kinds = [e.kind for e in day.events]
    assert kinds[0] == "opening" and kinds[-3:] == ["closing", "pv", "signed"]
    assert kinds.count("contact") == len(day.contacts)


def test_each_field_has_its_ink_in_its_own_boxes(day: StationDay) -> None:
    layout = load_form("contact")
    for c in day.contacts:
        fields = assign(c.ink, layout).fields
        for fid, value in c.values().items():
            strokes = fields.get(fid, ())
            assert bool(strokes) == bool(value), (fid, value)
            if fid in ("consent_email", "consent_sms"):
                continue
            # one character per cell: the cells with ink are those of the characters
            boxes = [b.rect for b in layout.field(fid).boxes]
            hit = set()
            for s in strokes:
                x, y = s.points[:, 0].mean(), s.points[:, 1].mean()
                hit |= {
                    i for i, r in enumerate(boxes) if r.x <= x <= r.right and r.y <= y <= r.bottom
                }
            assert hit == {i for i, ch in enumerate(value) if ch != " "}, (fid, value)


def test_ground_truth_is_valid(day: StationDay) -> None:
    station = day.station
    assert station.postcodes
    for c in day.contacts:
        assert c.postcode in station.postcodes
        assert len(c.phone) == 10 and c.phone.isdigit() and c.phone[:2] in ("06", "07")
        local, _, domain = c.email.partition("@")
        assert local and "." in domain and len(c.email) <= 40
        assert c.last_name.isupper() and c.first_name.isupper()
        assert c.first_name.lower().split("-")[0][0] in local
    assert day.pv.scenario == "pen_correction" and "field" in day.pv.details


def test_the_pen_sessions_decode_to_the_days_ink(day: StationDay) -> None:
    assert set(day.sessions) == set(day.station.pen_serials)
    total = 0
    for serial, data in day.sessions.items():
        ink, anomalies = decode_ink(data)
        assert anomalies == []
        assert len(ink) == len(day.pen_ink(serial))
        total += len(ink)
    assert total == len(day.ink)
    assert len(day.pen_ink()) > len(day.pv.ink) // 2  # contact forms + PV on the first pen


def test_same_seed_same_day() -> None:
    station = next(s for s in load_stations() if s.id == "01016-0001")
    a, b = simulate_day(station, seed=2), simulate_day(station, seed=2)
    assert a.sessions == b.sessions and a.contacts[0].values() == b.contacts[0].values()
