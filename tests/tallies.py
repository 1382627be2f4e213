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


def results_document(tallies: list[StationTally], **extra: object) -> dict[str, object]:
    """A plume-results v1 document (docs/reports.md) holding ``tallies``."""
    stations = []
    for t in tallies:
        c = t.counts
        counts = {k: getattr(c, k) for k in ("signatures", "ballots", "blank", "spoiled", "valid")}
        counts |= {
            "candidates": list(c.candidates),
            "contributions": c.contributions,
            "closing_time": c.closing_time,
        }
        stations.append(
            {
                "station_id": t.station_id,
                "departement": t.departement,
                "commune": f"Commune {t.station_id[:5]}",
                "registered": t.registered,
                "counts": counts,
            }
        )
    return {
        "format": "plume-results",
        "version": 1,
        "election": {"generated_at": "2011-10-09T22:00:00+02:00"},
        "stations": stations,
        **extra,
    }
