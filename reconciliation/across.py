"""Across-station rules (series 6xx): flags for a person, never verdicts.

:func:`check_across` runs every rule that compares stations with each other
on one set of station tallies (a round's results so far, or a final set):
turnout and vote-share outliers within a département (W.601, W.602), the
fingerprint's corner, excess mass and slope (W.603, W.604, W.607), the
last-digit tests (W.605, W.606) and, given the previous round, sudden changes
of turnout between rounds (W.608). Findings about a whole area carry its
:func:`area_id` as ``station_id``.

Pure and order-free: the same stations in any order give the same findings
(stations are grouped and sorted by id before any statistic is computed).
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.digits import digit_findings
from reconciliation.findings import Finding
from reconciliation.fingerprint import corner_stations
from reconciliation.fingerprint_tests import fingerprint_tests
from reconciliation.outliers import share_outliers, turnout_outliers
from reconciliation.rounds import round_changes
from reconciliation.tallies import StationTally, by_departement


def check_across(
    tallies: Iterable[StationTally],
    config: ReconciliationConfig = DEFAULT_CONFIG,
    previous: Iterable[StationTally] | None = None,
) -> list[Finding]:
    """Every across-station finding, sorted by code, fields, then station or area.

    ``previous``: the same stations' tallies in the previous round, for W.608.
    """
    groups = by_departement(tallies)
    stations = [t for group in groups.values() for t in group]
    findings: list[Finding] = []
    for group in groups.values():
        findings += turnout_outliers(group, config)
        findings += share_outliers(group, config)
    findings += corner_stations(stations, config)
    findings += fingerprint_tests(stations, config)
    findings += digit_findings(stations, config)
    if previous is not None:
        findings += round_changes(stations, list(previous), config)
    return sorted(findings, key=Finding.sort_key)
