"""Area-level tests on the election fingerprint (W.604, W.607): flags, never verdicts.

Ballot stuffing adds ballots for the winner, so it raises a station's turnout
and the winner's share together (Klimek et al., PNAS 2012). Each station is
scored within its own département (modified z-scores of turnout and of the
winner's share, so départements that vote differently do not mix), then each
area (every département with ``config.min_peers`` scored stations, and the
nation) is tested twice:

- W.604, excess mass in the upper right: more stations with both z-scores
  above ``config.tail_z`` than the two tails predict if turnout and share
  were independent, against binomial(n, p_turnout p_share). Sensitive to a
  few heavily stuffed stations.
- W.607, a rising fingerprint: Spearman's rank correlation between turnout
  and the winner's share, one-sided (positive), normal approximation
  z = rho sqrt(n - 1). Sensitive to mild stuffing spread over many stations.
  Weakness: honest places can show such a slope (a candidate strong where
  people vote more), so it is a reason to look, not evidence of fraud.

p-values are Holm-corrected over the areas tested, per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciliation.catalogue import rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding
from reconciliation.fingerprint import point
from reconciliation.stats import binom_sf, holm, robust_z, spearman
from reconciliation.tallies import StationTally, area_id, by_departement, winner


@dataclass(frozen=True, slots=True)
class _Scored:
    station_id: str
    departement: str
    turnout_z: float
    share_z: float


def _scored(
    stations: Sequence[StationTally], w: int, config: ReconciliationConfig
) -> list[_Scored]:
    out = []
    for dept, group in by_departement(stations).items():
        rows = [(t, p) for t in group if (p := point(t, w)) is not None]
        if len(rows) < config.min_peers:
            continue
        zt = robust_z([p[0] for _, p in rows])
        zs = robust_z([p[1] for _, p in rows])
        out += [
            _Scored(t.station_id, dept, a, b) for (t, _), a, b in zip(rows, zt, zs, strict=True)
        ]
    return out


def _areas(scored: list[_Scored]) -> list[tuple[str | None, list[_Scored]]]:
    """Each département's scored stations, then the nation's (None)."""
    areas: dict[str, list[_Scored]] = {}
    for row in scored:
        areas.setdefault(row.departement, []).append(row)
    return [*sorted(areas.items()), (None, scored)] if scored else []


def _area_text(dept: str | None) -> str:
    return "the nation" if dept is None else f"département {dept}"


def fingerprint_tests(
    stations: Sequence[StationTally], config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """W.604 and W.607 for each area whose Holm-corrected p-value is below alpha."""
    w = winner(stations)
    if w is None:
        return []
    areas = _areas(_scored(stations, w, config))
    return _excess_mass(areas, w, config) + _rising(areas, w, config)


def _excess_mass(
    areas: list[tuple[str | None, list[_Scored]]], w: int, config: ReconciliationConfig
) -> list[Finding]:
    tests = []
    for dept, rows in areas:
        n = len(rows)
        p_t = sum(r.turnout_z > config.tail_z for r in rows) / n
        p_s = sum(r.share_z > config.tail_z for r in rows) / n
        joint = tuple(r.station_id for r in rows if min(r.turnout_z, r.share_z) > config.tail_z)
        p_value = binom_sf(len(joint), n, p_t * p_s) if joint else 1.0
        tests.append((dept, n, p_t, p_s, joint, p_value))
    field = f"candidate_{w + 1}"
    out = []
    adjusted = holm([test[-1] for test in tests])
    for (dept, n, p_t, p_s, joint, p_value), p_holm in zip(tests, adjusted, strict=True):
        if p_holm >= config.alpha:
            continue
        evidence: dict[str, EvidenceValue] = {
            "stations": n,
            "joint_tail": len(joint),
            "expected": n * p_t * p_s,
            "turnout_tail_share": p_t,
            "share_tail_share": p_s,
            "tail_z": config.tail_z,
            "p_value": p_value,
            "p_holm": p_holm,
            "alpha": config.alpha,
            "areas_tested": len(tests),
            "winner": field,
            "tail_stations": joint,
        }
        out.append(
            rule("W.604").finding(
                area_id(dept),
                ("ballots", field),
                evidence,
                area=_area_text(dept),
                k=len(joint),
                n=n,
                expected=n * p_t * p_s,
                p=p_holm,
                areas=len(tests),
            )
        )
    return out


def _rising(
    areas: list[tuple[str | None, list[_Scored]]], w: int, config: ReconciliationConfig
) -> list[Finding]:
    tests = [
        (dept, len(rows), *spearman([r.turnout_z for r in rows], [r.share_z for r in rows]))
        for dept, rows in areas
    ]
    field = f"candidate_{w + 1}"
    out = []
    adjusted = holm([test[-1] for test in tests])
    for (dept, n, rho, p_value), p_holm in zip(tests, adjusted, strict=True):
        if p_holm >= config.alpha:
            continue
        evidence: dict[str, EvidenceValue] = {
            "stations": n,
            "spearman_rho": rho,
            "p_value": p_value,
            "p_holm": p_holm,
            "alpha": config.alpha,
            "areas_tested": len(tests),
            "winner": field,
        }
        out.append(
            rule("W.607").finding(
                area_id(dept),
                ("ballots", field),
                evidence,
                area=_area_text(dept),
                n=n,
                rho=rho,
                p=p_holm,
                areas=len(tests),
            )
        )
    return out
