"""Sudden changes between rounds (W.608): a station's turnout moving unlike its département's.

Between two rounds most stations of a département gain or lose turnout
together (the stakes change everywhere); a station whose turnout jumps while
its neighbours' does not is worth a look (stuffing in one round, or an
inflated roll). The change, round two minus round one, is scored with the
modified z-score within the département, as W.601 scores turnout. Only
turnout is compared: the candidates differ between rounds, so shares cannot
be. Stations present in one round only are not scored.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciliation.catalogue import rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding
from reconciliation.stats import median_and_mad, robust_z
from reconciliation.tallies import StationTally, by_departement


def round_changes(
    current: Sequence[StationTally],
    previous: Sequence[StationTally],
    config: ReconciliationConfig = DEFAULT_CONFIG,
) -> list[Finding]:
    """W.608 for each station whose turnout change stands out in its département."""
    before = {t.station_id: t.turnout for t in previous}
    out = []
    for dept, group in by_departement(current).items():
        rows = [
            (t, was, now)
            for t in group
            if (was := before.get(t.station_id)) is not None and (now := t.turnout) is not None
        ]
        if len(rows) < config.min_peers:
            continue
        changes = [now - was for _, was, now in rows]
        median, mad = median_and_mad(changes)
        ids = tuple(t.station_id for t, _, _ in rows)
        for (t, was, now), change, z in zip(rows, changes, robust_z(changes), strict=True):
            if abs(z) <= config.outlier_z:
                continue
            evidence: dict[str, EvidenceValue] = {
                "turnout_before": was,
                "turnout_now": now,
                "change": change,
                "median_change": median,
                "mad": mad,
                "z": z,
                "threshold": config.outlier_z,
                "peers": tuple(i for i in ids if i != t.station_id),
            }
            out.append(
                rule("W.608").finding(
                    t.station_id,
                    ("ballots",),
                    evidence,
                    before=100 * was,
                    now=100 * now,
                    median=100 * median,
                    departement=dept,
                    n=len(rows),
                    z=z,
                    threshold=config.outlier_z,
                )
            )
    return out
