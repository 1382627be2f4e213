"""What the across-station rules read: each station's counts, its département, its roll.

A :class:`StationTally` is one station's PV counts with where it is and how
many voters are registered there. Derived values (turnout, shares) are None
where a count is unread or the denominator is zero, so a rule simply skips
that station. Area-level findings (a whole département, or the nation) carry
an area id in ``Finding.station_id``: :func:`area_id`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciliation.arithmetic import PvCounts
from reconciliation.findings import ReconciliationError

NATIONAL = "national"


def area_id(departement: str | None) -> str:
    """``departement:<code>`` for a département, ``national`` for None."""
    return NATIONAL if departement is None else f"departement:{departement}"


@dataclass(frozen=True, slots=True)
class StationTally:
    """One station's counts, as the across-station rules read them."""

    station_id: str
    departement: str
    registered: int | None
    """Voters on the station's roll; None: turnout rules skip the station."""
    counts: PvCounts

    def __post_init__(self) -> None:
        if not self.station_id or not self.departement:
            raise ReconciliationError("a station tally needs a station id and a département")
        if self.registered is not None and self.registered < 0:
            raise ReconciliationError(
                f"station {self.station_id}: registered voters {self.registered} is negative"
            )

    @property
    def turnout(self) -> float | None:
        """Ballots in the box over registered voters."""
        ballots = self.counts.ballots
        if ballots is None or not self.registered or ballots < 0:
            return None
        return ballots / self.registered

    def votes(self, candidate: int) -> int | None:
        """Votes of candidate ``candidate`` (0-based), None if unread or absent."""
        votes = self.counts.candidates
        return votes[candidate] if candidate < len(votes) else None

    def share(self, candidate: int) -> float | None:
        """Candidate's votes over valid votes (suffrages exprimés)."""
        votes, valid = self.votes(candidate), self.counts.valid
        if votes is None or valid is None or valid <= 0 or votes < 0:
            return None
        return votes / valid


def by_departement(tallies: Iterable[StationTally]) -> dict[str, list[StationTally]]:
    """Stations grouped by département, each group sorted by station id."""
    groups: dict[str, list[StationTally]] = defaultdict(list)
    seen: set[str] = set()
    for t in tallies:
        if t.station_id in seen:
            raise ReconciliationError(f"station {t.station_id} appears twice")
        seen.add(t.station_id)
        groups[t.departement].append(t)
    return {d: sorted(g, key=lambda t: t.station_id) for d, g in sorted(groups.items())}


def winner(tallies: Sequence[StationTally]) -> int | None:
    """The candidate (0-based) with the most read votes in total; ties go to ballot order."""
    totals: dict[int, int] = defaultdict(int)
    for t in tallies:
        for i, v in enumerate(t.counts.candidates):
            if v is not None and v > 0:
                totals[i] += v
    if not totals:
        return None
    return min(totals, key=lambda i: (-totals[i], i))
