"""Reconciliation invariants: honest PVs pass, single changes are caught, ink order is moot."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_sim.electorate import honest_count
from pen.ink import Ink, Stroke
from reconciliation import (
    PaperReading,
    PvCounts,
    PvTimeline,
    Severity,
    StationContext,
    check_pv,
)

COUNT_FIELDS = ("signatures", "ballots", "blank", "spoiled", "valid", "contributions")


def from_sim(seed: int, voters: int | None) -> PvCounts:
    c = honest_count(np.random.default_rng(seed), voters=voters)
    return PvCounts(
        c.signatures,
        c.ballots,
        c.blank,
        c.spoiled,
        c.valid,
        c.candidates,
        c.contributions,
        c.closing_time,
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.none() | st.integers(1, 3000))
def test_an_honest_pv_has_no_error(seed: int, voters: int | None) -> None:
    findings = check_pv(from_sim(seed, voters), station_id="s")
    assert [f for f in findings if f.severity is Severity.ERROR] == []


@st.composite
def consistent_pv(draw: st.DrawFn) -> PvCounts:
    """Arithmetically consistent: parts add up, ballots <= signatures = contributions."""
    candidates = tuple(draw(st.lists(st.integers(0, 400), min_size=1, max_size=8)))
    valid = sum(candidates)
    blank = draw(st.integers(0, 50))
    spoiled = draw(st.integers(0, 50))
    ballots = valid + blank + spoiled
    signatures = ballots + draw(st.integers(0, 20))
    return PvCounts(signatures, ballots, blank, spoiled, valid, candidates, signatures, "1900")


@settings(max_examples=300, deadline=None)
@given(consistent_pv(), st.data(), st.integers(1, 500), st.booleans())
def test_any_single_change_to_one_count_is_caught(
    pv: PvCounts, data: st.DataObject, k: int, down: bool
) -> None:
    delta = -k if down else k
    n = len(pv.candidates)
    target = data.draw(st.sampled_from(COUNT_FIELDS + tuple(f"candidate_{i}" for i in range(n))))
    if target.startswith("candidate_"):
        i = int(target.removeprefix("candidate_"))
        votes = list(pv.candidates)
        votes[i] = (votes[i] or 0) + delta
        changed = replace(pv, candidates=tuple(votes))
    else:
        changed = replace(pv, **{target: getattr(pv, target) + delta})
    before = {f.code for f in check_pv(pv, station_id="s")}
    after = check_pv(changed, station_id="s")
    assert not any(f.severity is Severity.ERROR for f in check_pv(pv, station_id="s"))
    new = [f for f in after if f.severity is not Severity.INFO and f.code not in before]
    assert new, f"changing {target} by {delta} went unnoticed"


CLOSING = 1_318_179_600_000.0


@st.composite
def field_ink(draw: st.DrawFn) -> dict[str, list[Stroke]]:
    ink: dict[str, list[Stroke]] = {}
    for fid in draw(st.lists(st.sampled_from(COUNT_FIELDS), min_size=1, max_size=4, unique=True)):
        strokes = []
        for _ in range(draw(st.integers(1, 6))):
            t0 = CLOSING + draw(st.floats(-2 * 3.6e6, 6 * 3.6e6, allow_nan=False))
            x0 = draw(st.floats(140.0, 180.0))
            y0 = draw(st.floats(50.0, 110.0))
            pen = draw(st.sampled_from(("P1", "P2", "Q9")))
            strokes.append(
                Stroke.from_arrays(
                    [x0, x0 + 2, x0 + 3],
                    [y0, y0 + 3, y0 + 5],
                    [t0, t0 + 100, t0 + 300],
                    pen_serial=pen,
                )
            )
        ink[fid] = strokes
    return ink


@settings(max_examples=100, deadline=None)
@given(field_ink(), st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_stroke_order(
    ink: dict[str, list[Stroke]], rnd: random.Random
) -> None:
    station = StationContext(frozenset({"P1", "P2"}), closing_ms=CLOSING)
    pv = PvCounts(100, 100, 1, 1, 98, (50, 48), 100, "1900")
    shuffled = {}
    for fid in rnd.sample(list(ink), len(ink)):
        strokes = list(ink[fid])
        rnd.shuffle(strokes)
        shuffled[fid] = strokes
    a = check_pv(
        pv, station_id="s", timeline=PvTimeline({k: Ink.of(v) for k, v in ink.items()}, station)
    )
    b = check_pv(
        pv,
        station_id="s",
        timeline=PvTimeline({k: Ink.of(v) for k, v in shuffled.items()}, station),
    )
    assert a == b


@settings(max_examples=200, deadline=None)
@given(consistent_pv(), st.data(), st.integers(1, 5000))
def test_a_confidently_read_paper_change_is_always_an_error(
    pv: PvCounts, data: st.DataObject, delta: int
) -> None:
    fields = [name for name, value in pv.counts() if value is not None]
    target = data.draw(st.sampled_from(fields))
    paper = {name: PaperReading(str(value), 1.0) for name, value in pv.counts()}
    assert [f for f in check_pv(pv, station_id="s", paper=paper) if f.code == "F.301"] == []
    changed = dict(pv.counts())[target]
    assert changed is not None
    paper[target] = PaperReading(str(changed + delta), 0.95)
    f301 = [f for f in check_pv(pv, station_id="s", paper=paper) if f.code == "F.301"]
    assert [f.fields for f in f301] == [(target,)]
