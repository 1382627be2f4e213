"""Results: sums of PV values over complete stations, nationally or by département.

Only complete PVs count (every count field has a value): a half-read PV would
move the totals as it fills in. Shares are each candidate's votes over the
candidates' total (suffrages exprimés), as a fraction in 0..1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ingest.db import PvResult, Station, session
from ingest.geo import departement_of

_CANDIDATE = re.compile(r"^candidate_(\d+)$")
#: Count fields of form pv v1 in form order; candidates go after ``valid``.
_FORM_ORDER = ("signatures", "ballots", "blank", "spoiled", "valid")


def field_order(fields: Iterable[str]) -> list[str]:
    """Field ids in the PV's order: totals, candidates by number, then the rest."""

    def key(f: str) -> tuple[int, int, str]:
        if f in _FORM_ORDER:
            return (0, _FORM_ORDER.index(f), f)
        m = _CANDIDATE.match(f)
        if m:
            return (1, int(m.group(1)), f)
        return (2, 0, f)

    return sorted(set(fields), key=key)


@dataclass(frozen=True)
class CandidateTotal:
    field: str
    votes: int
    share: float


@dataclass(frozen=True)
class Totals:
    scope: str
    """``national``, a département code, or a station id."""
    stations_expected: int
    stations_reporting: int
    """Stations whose PV is complete (their values are in the sums)."""
    totals: dict[str, int]
    candidates: list[CandidateTotal]


def _int_values(values: dict[str, object]) -> dict[str, int]:
    return {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}


def _candidates(totals: dict[str, int]) -> list[CandidateTotal]:
    fields = [f for f in field_order(totals) if _CANDIDATE.match(f)]
    votes = sum(totals[f] for f in fields)
    return [CandidateTotal(f, totals[f], totals[f] / votes if votes else 0.0) for f in fields]


def totals(engine: Engine, departement: str | None) -> Totals:
    """National totals (``departement=None``) or one département's."""
    q = select(PvResult.values).where(PvResult.complete.is_(True))
    ids = select(Station.station_id)
    if departement is not None:
        q = q.where(PvResult.departement == departement)
        ids = ids.where(Station.station_id.like(f"{departement}%"))
    sums: dict[str, int] = {}
    with session(engine) as s:
        reporting = 0
        for values in s.scalars(q):
            reporting += 1
            for k, v in _int_values(values).items():
                sums[k] = sums.get(k, 0) + v
        expected = sum(
            1 for sid in s.scalars(ids) if departement is None or departement_of(sid) == departement
        )
    ordered = {k: sums[k] for k in field_order(sums)}
    return Totals(departement or "national", expected, reporting, ordered, _candidates(ordered))


def station_totals(engine: Engine, station_id: str) -> Totals | None:
    """One station's PV as read (complete or not); None if the station has no kit."""
    with session(engine) as s:
        if s.get(Station, station_id) is None:
            return None
        row = s.get(PvResult, station_id)
    values = _int_values(row.values) if row else {}
    ordered = {k: values[k] for k in field_order(values)}
    reporting = 1 if row is not None and row.complete else 0
    return Totals(station_id, 1, reporting, ordered, _candidates(ordered))


def station_rows(engine: Engine, departement: str | None) -> list[PvResult]:
    """Every PV row (complete or not) nationally or in one département, by station id."""
    q = select(PvResult).order_by(PvResult.station_id)
    if departement is not None:
        q = q.where(PvResult.departement == departement)
    with session(engine) as s:
        return list(s.scalars(q))
