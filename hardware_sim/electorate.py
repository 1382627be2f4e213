"""A polling station's count, consistent with a simulated electorate.

The foundation's version: one station's totals drawn so that the minutes add
up (blank + spoiled + valid = ballots; candidates sum to valid). Vote shares
default to the national round-one result of the 2011 primaire citoyenne
(Haute autorité des primaires citoyennes, final results of 12 October 2011):
Hollande 39.17%, Aubry 30.42%, Montebourg 17.19%, Royal 6.95%, Valls 5.63%,
Baylet 0.64%. Issue 3 grows this into a full day with realistic station
sizes from the communes data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ROUND_ONE_2011 = {
    "Martine Aubry": 30.42,
    "Jean-Michel Baylet": 0.64,
    "François Hollande": 39.17,
    "Arnaud Montebourg": 17.19,
    "Ségolène Royal": 6.95,
    "Manuel Valls": 5.63,
}


@dataclass(frozen=True, slots=True)
class StationCount:
    signatures: int
    ballots: int
    blank: int
    spoiled: int
    valid: int
    candidates: tuple[int, ...]
    contributions: int
    closing_time: str

    def fields(self) -> dict[str, str]:
        """Field id -> the text the president writes in it."""
        out = {
            "signatures": str(self.signatures),
            "ballots": str(self.ballots),
            "blank": str(self.blank),
            "spoiled": str(self.spoiled),
            "valid": str(self.valid),
            "contributions": str(self.contributions),
            "closing_time": self.closing_time,
        }
        for i, votes in enumerate(self.candidates, start=1):
            out[f"candidate_{i}"] = str(votes)
        return out


def honest_count(
    rng: np.random.Generator,
    shares: Sequence[float] = tuple(ROUND_ONE_2011.values()),
    voters: int | None = None,
) -> StationCount:
    """An arithmetically consistent count for one station."""
    signatures = int(voters if voters is not None else rng.integers(150, 900))
    ballots = signatures - int(rng.random() < 0.1)  # now and then a voter leaves with the ballot
    blank = int(rng.binomial(ballots, 0.006))
    spoiled = int(rng.binomial(ballots - blank, 0.004))
    valid = ballots - blank - spoiled
    p = np.asarray(shares, dtype=float)
    votes = rng.multinomial(valid, p / p.sum())
    return StationCount(
        signatures=signatures,
        ballots=ballots,
        blank=blank,
        spoiled=spoiled,
        valid=valid,
        candidates=tuple(int(v) for v in votes),
        contributions=signatures,
        closing_time="1900",
    )
