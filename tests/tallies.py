"""Station tallies for the across-station tests, from hardware_sim's stations."""

from __future__ import annotations

import dataclasses

import numpy as np

from hardware_sim.scenarios import pv_counts
from hardware_sim.stations import Station, load_stations
from reconciliation import PvCounts, StationTally


def honest_tallies(seed: int, departements: tuple[str, ...] = ()) -> list[StationTally]:
    """One honest count for each sample station (of ``departements`` only, if given)."""
    rng = np.random.default_rng(seed)
    stations: list[Station] = [
        s for s in load_stations() if not departements or s.departement in departements
    ]
    return [
        StationTally(s.id, s.departement, s.electorate, pv_counts(s.count(rng))) for s in stations
    ]


def stuffed(t: StationTally, candidate: int, extra: int) -> StationTally:
    """``t`` with ``extra`` ballots added for one candidate, the PV kept consistent."""
    c = t.counts
    votes = list(c.candidates)
    votes[candidate] = (votes[candidate] or 0) + extra
    counts: PvCounts = dataclasses.replace(
        c,
        signatures=(c.signatures or 0) + extra,
        ballots=(c.ballots or 0) + extra,
        valid=(c.valid or 0) + extra,
        candidates=tuple(votes),
        contributions=(c.contributions or 0) + extra,
    )
    return dataclasses.replace(t, counts=counts)
