"""Across-station invariants: order-free, silent on constant data, local, honest statistics."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation import PvCounts, StationTally, check_across
from reconciliation.stats import binom_sf, chi2_sf, holm, robust_z, spearman

OUTLIER_CODES = ("W.601", "W.602")
DIGIT_CODES = ("W.605", "W.606")


@st.composite
def tally(draw: st.DrawFn, i: int, departement: str) -> StationTally:
    votes = tuple(draw(st.lists(st.integers(0, 400), min_size=4, max_size=4)))
    blank = draw(st.integers(0, 10))
    ballots = sum(votes) + blank
    registered = ballots + draw(st.integers(0, 1500))
    counts = PvCounts(ballots, ballots, blank, 0, sum(votes), votes, ballots, "1900")
    return StationTally(f"{departement}000-{i:04d}", departement, registered, counts)


@st.composite
def election(draw: st.DrawFn) -> list[StationTally]:
    sizes = draw(st.lists(st.integers(0, 30), min_size=1, max_size=3))
    return [draw(tally(i, f"{d + 1:02d}")) for d, size in enumerate(sizes) for i in range(size)]


@settings(max_examples=60, deadline=None)
@given(election(), st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_station_order(tallies: list[StationTally], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(tallies)
    rnd.shuffle(shuffled)
    assert check_across(shuffled) == check_across(tallies)


@settings(max_examples=40, deadline=None)
@given(st.integers(10, 200), st.integers(1, 3), st.integers(0, 500), st.integers(0, 2000))
def test_nothing_stands_out_of_constant_data(
    n: int, departements: int, votes: int, extra: int
) -> None:
    """No outlier, corner or fingerprint flag; the last-digit tests alone may fire, rightly:
    identical counts in every station all end in the same digit."""
    counts = PvCounts(
        4 * votes, 4 * votes, 0, 0, 4 * votes, (votes, votes, votes, votes), 4 * votes, "1900"
    )
    tallies = [
        StationTally(f"{d:02d}000-{i:04d}", f"{d:02d}", 4 * votes + extra, counts)
        for d in range(departements)
        for i in range(n)
    ]
    assert [f for f in check_across(tallies) if f.code not in DIGIT_CODES] == []


@settings(max_examples=40, deadline=None)
@given(election(), election())
def test_outliers_are_judged_within_their_departement(
    home: list[StationTally], other: list[StationTally]
) -> None:
    home = [t for t in home if t.departement == "01"]
    elsewhere = [
        StationTally(t.station_id.replace("-", "x-"), f"9{t.departement}", t.registered, t.counts)
        for t in other
    ]

    def outliers(tallies: list[StationTally]) -> list[object]:
        return [f for f in check_across(tallies) if f.code in OUTLIER_CODES]

    mine = outliers(home)
    assert [f for f in outliers(home + elsewhere) if "x-" not in f.station_id] == mine  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(election())
def test_every_outlier_is_beyond_its_threshold(tallies: list[StationTally]) -> None:
    for f in check_across(tallies):
        if f.code in OUTLIER_CODES:
            z, threshold = f.evidence["z"], f.evidence["threshold"]
            assert isinstance(z, float) and isinstance(threshold, float)
            assert abs(z) > threshold


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=50), st.integers(-1000, 1000))
def test_robust_z_ignores_shifts(values: list[int], shift: int) -> None:
    a = robust_z([v / 100 for v in values])
    b = robust_z([(v + shift) / 100 for v in values])
    assert all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6) for x, y in zip(a, b, strict=True))


@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_holm_is_between_raw_and_one(p: list[float]) -> None:
    adjusted = holm(p)
    assert all(raw <= adj <= 1.0 for raw, adj in zip(p, adjusted, strict=True))
    ranked = sorted(zip(p, adjusted, strict=True))
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(ranked))


@given(st.integers(0, 300), st.floats(0.01, 0.99), st.integers(0, 300))
def test_tail_probabilities_are_probabilities_and_fall(n: int, p: float, k: int) -> None:
    slack = 1e-12  # rounding in a sum of up to n terms
    assert 0.0 <= binom_sf(k + 1, n, p) <= binom_sf(k, n, p) + slack <= 1.0 + slack
    assert 0.0 <= chi2_sf(k + 1, 9) <= chi2_sf(k, 9) <= 1.0


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=30))
def test_spearman_is_symmetric_and_bounded(pairs: list[tuple[int, int]]) -> None:
    x = [float(a) for a, _ in pairs]
    y = [float(b) for _, b in pairs]
    rho, p = spearman(x, y)
    assert -1.0 - 1e-9 <= rho <= 1.0 + 1e-9 and 0.0 <= p <= 1.0
    assert math.isclose(spearman(y, x)[0], rho, abs_tol=1e-12)
