"""The election fingerprint of Klimek, Yegorov, Hanel and Thurner (PNAS 109(41), 2012).

Each station is a point (turnout, winner's share of valid votes); the 2D
histogram of those points is the fingerprint. In fair elections it is one
roughly round cloud; ballot stuffing drags stations towards the upper right
(more ballots, all for the winner) and, at the extreme, into the 100%/100%
corner. Two rules read it:

- W.603, per station: the station sits in the corner (turnout and winner's
  share both at least ``config.corner_share``).
- W.604 and W.607, per area: see :mod:`reconciliation.fingerprint_tests`.

The winner is the candidate with the most votes over all the stations given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reconciliation.catalogue import field_label, rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding
from reconciliation.tallies import StationTally, winner


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The 2D histogram: ``counts[i][j]`` stations with turnout in bin i, share in bin j."""

    bins: int
    counts: tuple[tuple[int, ...], ...]
    winner: int | None
    """0-based candidate index of the winner."""
    stations: int
    """Stations placed (those with a turnout and a winner's share)."""


def point(t: StationTally, w: int) -> tuple[float, float] | None:
    """The station's place on the fingerprint: (turnout, winner's share), None if unknown."""
    turnout, share = t.turnout, t.share(w)
    if turnout is None or share is None:
        return None
    return turnout, share


def fingerprint(
    stations: Sequence[StationTally], bins: int = 20, win: int | None = None
) -> Fingerprint:
    """The fingerprint of ``stations`` (turnout above 100% goes in the last bin)."""
    w = winner(stations) if win is None else win
    grid = np.zeros((bins, bins), dtype=int)
    placed = 0
    if w is not None:
        for t in stations:
            xy = point(t, w)
            if xy is None:
                continue
            i, j = (min(bins - 1, max(0, int(v * bins))) for v in xy)
            grid[i, j] += 1
            placed += 1
    return Fingerprint(bins, tuple(tuple(int(v) for v in row) for row in grid), w, placed)


def corner_stations(
    stations: Sequence[StationTally], config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """W.603 for each station in the 100%/100% corner of the fingerprint."""
    w = winner(stations)
    if w is None:
        return []
    field = f"candidate_{w + 1}"
    out = []
    for t in stations:
        xy = point(t, w)
        if xy is None or min(xy) < config.corner_share:
            continue
        turnout, share = xy
        evidence: dict[str, EvidenceValue] = {
            "turnout": turnout,
            "winner_share": share,
            "winner": field,
            "ballots": t.counts.ballots,
            "registered": t.registered,
            "threshold": config.corner_share,
        }
        out.append(
            rule("W.603").finding(
                t.station_id,
                ("ballots", field),
                evidence,
                turnout=100 * turnout,
                share=100 * share,
                label=field_label(field),
                threshold=100 * config.corner_share,
            )
        )
    return out
