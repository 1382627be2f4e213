"""What a results report says about one area (the nation or a département).

:func:`summarise` adds up the stations' counts (unread values count as
nothing, and the number of stations with an unread count is kept so the
report can say so), attaches the findings that concern the area (its
stations' and its own area-level ones) and its fingerprint. Pure: reports in
:mod:`reconciliation.report_html` and :mod:`reconciliation.report_pdf` only
lay this out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciliation.findings import Finding, Severity
from reconciliation.fingerprint import Fingerprint, fingerprint
from reconciliation.tallies import StationTally, area_id, winner

COUNT_FIELDS = ("registered", "signatures", "ballots", "blank", "spoiled", "valid")


@dataclass(frozen=True, slots=True)
class AreaSummary:
    """Totals, findings and fingerprint of one area."""

    area: str
    """:func:`reconciliation.tallies.area_id` of the area."""
    departement: str | None
    stations: tuple[StationTally, ...]
    """The area's stations reporting, sorted by id."""
    expected_stations: int | None
    """Stations the area has; None if not known."""
    totals: dict[str, int]
    """Sum of each of :data:`COUNT_FIELDS` over the stations that read it."""
    votes: tuple[int, ...]
    """Each candidate's votes, in ballot order."""
    incomplete: int
    """Stations with at least one unread count."""
    findings: tuple[Finding, ...]
    fingerprint: Fingerprint

    @property
    def turnout(self) -> float | None:
        registered = self.totals["registered"]
        return self.totals["ballots"] / registered if registered else None

    def shares(self) -> tuple[float, ...]:
        valid = sum(self.votes)
        return tuple(v / valid if valid else 0.0 for v in self.votes)

    def by_severity(self) -> dict[Severity, list[Finding]]:
        """The findings by severity, errors first, each list in finding order."""
        out: dict[Severity, list[Finding]] = {s: [] for s in Severity}
        for f in self.findings:
            out[f.severity].append(f)
        return out


def summarise(
    tallies: Sequence[StationTally],
    findings: Sequence[Finding],
    departement: str | None = None,
    expected_stations: int | None = None,
) -> AreaSummary:
    """The nation's summary (``departement`` None) or one département's."""
    mine = tuple(
        sorted(
            (t for t in tallies if departement is None or t.departement == departement),
            key=lambda t: t.station_id,
        )
    )
    ids = {t.station_id for t in mine}
    area = area_id(departement)
    own = [
        f
        for f in findings
        if f.station_id in ids
        or f.station_id == area
        or (departement is None and ":" in f.station_id)
    ]
    totals = dict.fromkeys(COUNT_FIELDS, 0)
    n_candidates = max((len(t.counts.candidates) for t in tallies), default=0)
    votes = [0] * n_candidates
    incomplete = 0
    for t in mine:
        values = {"registered": t.registered, **{k: getattr(t.counts, k) for k in COUNT_FIELDS[1:]}}
        unread = [v for v in values.values() if v is None] + [
            v for v in t.counts.candidates if v is None
        ]
        incomplete += bool(unread)
        for k, v in values.items():
            totals[k] += v or 0
        for i, v in enumerate(t.counts.candidates):
            votes[i] += v or 0
    return AreaSummary(
        area,
        departement,
        mine,
        expected_stations,
        totals,
        tuple(votes),
        incomplete,
        tuple(sorted(own, key=Finding.sort_key)),
        fingerprint(mine, win=winner(tallies)),
    )
