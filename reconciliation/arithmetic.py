"""Arithmetic rules on one PV's counts: totals, ballots against signatures, plausibility.

Input is :class:`PvCounts`, the values read for one station (None where a
field could not be read). A rule whose inputs are not all read does not run;
instead W.010 says which field is missing. The rules and their sources are in
:mod:`reconciliation.catalogue`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from reconciliation.catalogue import field_label, rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding, ReconciliationError

_HHMM = re.compile(r"([01][0-9]|2[0-3])[0-5][0-9]")


@dataclass(frozen=True, slots=True)
class PvCounts:
    """The values of one PV (form pv v1), as read; None where a field is unread."""

    signatures: int | None
    """Nombre d'émargements: voters who signed the list."""
    ballots: int | None
    """Bulletins trouvés dans l'urne."""
    blank: int | None
    spoiled: int | None
    valid: int | None
    """Suffrages exprimés."""
    candidates: tuple[int | None, ...]
    """Votes of candidate_1 .. candidate_n, in ballot order."""
    contributions: int | None
    """Number of €1 contributions collected."""
    closing_time: str | None = None
    """Heure de clôture as written, ``HHMM``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(self.candidates))
        for name, value in self.counts():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ReconciliationError(f"PV count {name} must be an int or None, got {value!r}")

    def counts(self) -> Iterator[tuple[str, int | None]]:
        """(field id, value) for every count, in form order."""
        yield from (
            ("signatures", self.signatures),
            ("ballots", self.ballots),
            ("blank", self.blank),
            ("spoiled", self.spoiled),
            ("valid", self.valid),
        )
        for i, votes in enumerate(self.candidates, start=1):
            yield (f"candidate_{i}", votes)
        yield ("contributions", self.contributions)


def candidate_fields(counts: PvCounts) -> tuple[str, ...]:
    return tuple(f"candidate_{i}" for i in range(1, len(counts.candidates) + 1))


def check_counts(
    counts: PvCounts, station_id: str, config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """Every arithmetic finding on one PV, in rule order."""
    out: list[Finding] = []
    for name, value in counts.counts():
        label = field_label(name)
        if value is None:
            out.append(
                rule("W.010").finding(station_id, (name,), {"field": name}, label=label, field=name)
            )
        elif value < 0:
            out.append(
                rule("F.001").finding(
                    station_id, (name,), {name: value}, label=label, field=name, value=value
                )
            )
        elif value > config.max_station_count:
            limit = config.max_station_count
            out.append(
                rule("F.002").finding(
                    station_id,
                    (name,),
                    {name: value, "limit": limit},
                    label=label,
                    field=name,
                    value=value,
                    limit=limit,
                )
            )
    out += _closing_time(counts, station_id)
    out += _totals(counts, station_id)
    out += _ballots_and_voters(counts, station_id, config)
    out += _shares(counts, station_id, config)
    return out


def _closing_time(counts: PvCounts, station_id: str) -> list[Finding]:
    label = field_label("closing_time")
    value = counts.closing_time
    if value is None:
        evidence = {"field": "closing_time"}
        return [
            rule("W.010").finding(
                station_id, ("closing_time",), evidence, label=label, field="closing_time"
            )
        ]
    if not _HHMM.fullmatch(value):
        return [
            rule("F.003").finding(
                station_id, ("closing_time",), {"closing_time": value}, label=label, value=value
            )
        ]
    return []


def _totals(counts: PvCounts, station_id: str) -> list[Finding]:
    out: list[Finding] = []
    votes = counts.candidates
    if counts.valid is not None and votes and all(v is not None for v in votes):
        total = sum(v for v in votes if v is not None)
        if total != counts.valid:
            evidence: dict[str, EvidenceValue] = {
                "candidates": tuple(votes),
                "candidates_total": total,
                "valid": counts.valid,
                "difference": total - counts.valid,
            }
            out.append(
                rule("F.202").finding(
                    station_id,
                    ("valid", *candidate_fields(counts)),
                    evidence,
                    total=total,
                    valid=counts.valid,
                    label=field_label("valid"),
                    difference=total - counts.valid,
                )
            )
    parts = (counts.blank, counts.spoiled, counts.valid)
    if counts.ballots is not None and all(p is not None for p in parts):
        blank, spoiled, valid = (p or 0 for p in parts)
        total = blank + spoiled + valid
        if total != counts.ballots:
            evidence = {
                "ballots": counts.ballots,
                "blank": blank,
                "spoiled": spoiled,
                "valid": valid,
                "difference": total - counts.ballots,
            }
            out.append(
                rule("F.203").finding(
                    station_id,
                    ("ballots", "blank", "spoiled", "valid"),
                    evidence,
                    blank=blank,
                    spoiled=spoiled,
                    valid=valid,
                    total=total,
                    ballots=counts.ballots,
                    label=field_label("ballots"),
                    difference=total - counts.ballots,
                )
            )
    return out


def _ballots_and_voters(
    counts: PvCounts, station_id: str, config: ReconciliationConfig
) -> list[Finding]:
    out: list[Finding] = []
    ballots, signatures = counts.ballots, counts.signatures
    if ballots is not None and signatures is not None:
        evidence = {"ballots": ballots, "signatures": signatures}
        if ballots > signatures:
            out.append(
                rule("F.204").finding(
                    station_id,
                    ("signatures", "ballots"),
                    evidence,
                    ballots=ballots,
                    signatures=signatures,
                    excess=ballots - signatures,
                )
            )
        elif signatures > 0:
            missing = signatures - ballots
            percent = 100.0 * missing / signatures
            if (
                missing >= config.missing_ballots_min
                and missing >= config.missing_ballots_ratio * signatures
            ):
                out.append(
                    rule("W.203").finding(
                        station_id,
                        ("signatures", "ballots"),
                        {**evidence, "missing": missing},
                        ballots=ballots,
                        signatures=signatures,
                        missing=missing,
                        percent=percent,
                    )
                )
    contributions = counts.contributions
    if contributions is not None and signatures is not None and contributions != signatures:
        difference = contributions - signatures
        out.append(
            rule("W.205").finding(
                station_id,
                ("signatures", "contributions"),
                {"contributions": contributions, "signatures": signatures},
                contributions=contributions,
                signatures=signatures,
                difference=difference,
            )
        )
    return out


def _shares(counts: PvCounts, station_id: str, config: ReconciliationConfig) -> list[Finding]:
    ballots = counts.ballots
    if ballots is None:
        return []
    if ballots == 0:
        label = field_label("ballots")
        return [rule("W.204").finding(station_id, ("ballots",), {"ballots": 0}, label=label)]
    out: list[Finding] = []
    for code, name, value, ratio in (
        ("W.201", "blank", counts.blank, config.blank_ratio),
        ("W.202", "spoiled", counts.spoiled, config.spoiled_ratio),
    ):
        if ballots > 0 and value is not None and value >= ratio * ballots:
            percent = 100.0 * value / ballots
            out.append(
                rule(code).finding(
                    station_id,
                    ("ballots", name),
                    {name: value, "ballots": ballots},
                    ballots=ballots,
                    percent=percent,
                    limit=100 * ratio,
                    **{name: value},
                )
            )
    return out
