"""Across-station rules (W.601-W.606) on hardware_sim's honest stations, with frauds added."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reconciliation import (
    DEFAULT_CONFIG,
    PvCounts,
    ReconciliationError,
    StationTally,
    check_across,
)
from reconciliation.digits import digit_tests
from reconciliation.fingerprint import fingerprint
from reconciliation.tallies import winner
from tests.tallies import honest_tallies, stuffed

AREA_CODES = ("W.604", "W.605", "W.606", "W.607")


@pytest.fixture(scope="module")
def honest() -> list[StationTally]:
    return honest_tallies(seed=11)


def test_honest_election_has_no_area_flag_and_few_station_flags(
    honest: list[StationTally],
) -> None:
    findings = check_across(honest)
    assert [f for f in findings if f.code in (*AREA_CODES, "W.603")] == []
    flagged = {f.station_id for f in findings}
    assert len(flagged) < 0.02 * len(honest)


def test_turnout_outlier_names_its_peers(honest: list[StationTally]) -> None:
    dept = [t for t in honest if t.departement == "59"]
    target = dept[5]
    assert target.registered is not None
    extra = target.registered - (target.counts.ballots or 0) - 2  # turnout near 100%
    tallies = [stuffed(t, 0, extra) if t is target else t for t in dept]
    w601 = [f for f in check_across(tallies) if f.code == "W.601"]
    assert [f.station_id for f in w601] == [target.station_id]
    ev = w601[0].evidence
    assert isinstance(ev["z"], float) and ev["z"] > DEFAULT_CONFIG.outlier_z
    assert ev["threshold"] == DEFAULT_CONFIG.outlier_z
    assert set(ev["peers"]) == {t.station_id for t in dept} - {target.station_id}  # type: ignore[arg-type]


def test_share_outlier_on_a_candidate_given_most_votes(honest: list[StationTally]) -> None:
    dept = [t for t in honest if t.departement == "13"]
    target = max(dept, key=lambda t: t.counts.valid or 0)
    c = target.counts
    votes = list(c.candidates)
    moved = votes[0] // 2  # half of candidate 1's votes go to candidate 4
    votes[0] -= moved
    votes[3] += moved
    forged = dataclasses.replace(target, counts=dataclasses.replace(c, candidates=tuple(votes)))
    tallies = [forged if t is target else t for t in dept]
    w602 = {f.fields[0] for f in check_across(tallies) if f.station_id == target.station_id}
    assert {"candidate_1", "candidate_4"} <= w602


def test_corner_station(honest: list[StationTally]) -> None:
    tallies = [t for t in honest if t.departement == "75"]
    w = winner(tallies)
    assert w is not None
    target = tallies[0]
    n = target.registered or 0
    votes = [0] * len(target.counts.candidates)
    votes[w] = n
    full = PvCounts(n, n, 0, 0, n, tuple(votes), n, "1900")
    tallies[0] = dataclasses.replace(target, counts=full)
    w603 = [f for f in check_across(tallies) if f.code == "W.603"]
    assert [f.station_id for f in w603] == [target.station_id]
    assert w603[0].evidence["turnout"] == 1.0 and w603[0].evidence["winner_share"] == 1.0


def _stuff(honest: list[StationTally], dept: str, share: float, extra: float) -> list[StationTally]:
    """Stuff a ``share`` of ``dept``'s stations with ``extra`` x roll ballots for the winner."""
    w = winner(honest)
    assert w is not None
    rng = np.random.default_rng(5)
    return [
        stuffed(t, w, int(extra * (t.registered or 0)))
        if t.departement == dept and rng.random() < share
        else t
        for t in honest
    ]


def test_heavy_stuffing_of_a_few_stations_shows_as_excess_mass(
    honest: list[StationTally],
) -> None:
    findings = check_across(_stuff(honest, "59", 0.05, 0.5))
    w604 = [f for f in findings if f.code == "W.604"]
    assert [f.station_id for f in w604] == ["departement:59"]
    tail = w604[0].evidence["tail_stations"]
    assert isinstance(tail, tuple) and all(str(s).startswith("59") for s in tail)
    assert w604[0].evidence["joint_tail"] == len(tail) > w604[0].evidence["expected"]  # type: ignore[operator]


def test_mild_stuffing_of_many_stations_makes_the_fingerprint_rise(
    honest: list[StationTally],
) -> None:
    findings = check_across(_stuff(honest, "59", 0.35, 0.25))
    w607 = [f for f in findings if f.code == "W.607"]
    assert [f.station_id for f in w607] == ["departement:59"]
    rho = w607[0].evidence["spearman_rho"]
    assert isinstance(rho, float) and rho > 0.3


def test_invented_round_counts_fail_the_digit_tests(honest: list[StationTally]) -> None:
    rng = np.random.default_rng(8)
    out = []
    for t in honest:
        if t.departement == "92":
            votes = tuple(int(5 * round(v / 5)) if v >= 10 else v for v in t.counts.candidates)
            counts = dataclasses.replace(t.counts, candidates=votes, valid=sum(votes))
            t = dataclasses.replace(t, counts=counts)
        out.append(t)
    rng.shuffle(out)  # type: ignore[arg-type]
    findings = [f for f in check_across(out) if f.code in ("W.605", "W.606")]
    assert {(f.code, f.station_id) for f in findings} == {
        ("W.605", "departement:92"),
        ("W.606", "departement:92"),
    }
    w606 = next(f for f in findings if f.code == "W.606")
    assert w606.evidence["round_share"] == 1.0
    assert isinstance(w606.evidence["p_holm"], float) and w606.evidence["p_holm"] < 0.01


def test_small_departements_are_not_tested(honest: list[StationTally]) -> None:
    small = [t for t in honest if t.departement == "01"][:3]
    assert digit_tests(small) == []
    assert check_across(small) == []


def test_fingerprint_places_every_station(honest: list[StationTally]) -> None:
    fp = fingerprint(honest, bins=10)
    assert fp.stations == len(honest)
    assert sum(map(sum, fp.counts)) == len(honest)
    assert fp.winner == winner(honest)


def test_duplicate_station_is_refused(honest: list[StationTally]) -> None:
    with pytest.raises(ReconciliationError, match="twice"):
        check_across([honest[0], honest[0]])


def test_turnout_jump_between_rounds(honest: list[StationTally]) -> None:
    first = [t for t in honest if t.departement == "33"]
    second = [t for t in honest_tallies(12) if t.departement == "33"]
    assert check_across(second, previous=first) == check_across(second)  # nothing stands out
    target = second[7]
    jump = stuffed(target, 0, int(0.4 * (target.registered or 0)))
    second[7] = jump
    w608 = [f for f in check_across(second, previous=first) if f.code == "W.608"]
    assert [f.station_id for f in w608] == [target.station_id]
    ev = w608[0].evidence
    assert ev["turnout_before"] == first[7].turnout and ev["turnout_now"] == jump.turnout
