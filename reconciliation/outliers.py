"""Turnout and vote-share outliers within a département (W.601, W.602).

A station is compared with the other stations of its département only (a
département votes its own way), and only when the département has
``config.min_peers`` stations with the value. The score is Iglewicz and
Hoaglin's modified z-score, 0.6745 (x - median) / MAD, which a few frauds
cannot drag the way they drag a mean and a standard deviation.

- Turnout (W.601) is scored as it is: stations differ in turnout far more
  than sampling noise, so the spread between stations is what matters.
- A candidate's share (W.602) varies for two reasons: sampling (a
  40-voter station swings more than a 1,000-voter one) and real differences
  between stations. The score divides the distance to the median share by
  both: sqrt(p (1 - p) / valid + tau^2), with p the département's pooled
  share and tau^2 the between-station variance left in the MAD once the
  typical sampling variance is taken out (a quasi-binomial model). Without
  this, small stations would be flagged for being small. Stations where the
  candidate expects fewer than ``config.min_expected_votes`` votes are not
  scored.

These are flags for a person to look at, never verdicts: warnings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reconciliation.catalogue import field_label, rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding
from reconciliation.stats import MAD_SCALE, median_and_mad, robust_z
from reconciliation.tallies import StationTally


def turnout_outliers(
    stations: Sequence[StationTally], config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """W.601 for each station of one département whose turnout stands out."""
    scored = [(t, t.turnout) for t in stations]
    rows = [(t, v) for t, v in scored if v is not None]
    if len(rows) < config.min_peers:
        return []
    values = [v for _, v in rows]
    zs = robust_z(values)
    median, mad = median_and_mad(values)
    ids = tuple(t.station_id for t, _ in rows)
    out = []
    for (t, v), z in zip(rows, zs, strict=True):
        if abs(z) > config.outlier_z:
            evidence: dict[str, EvidenceValue] = {
                "turnout": v,
                "ballots": t.counts.ballots,
                "registered": t.registered,
                "median": median,
                "mad": mad,
                "z": z,
                "threshold": config.outlier_z,
                "peers": tuple(i for i in ids if i != t.station_id),
            }
            out.append(
                rule("W.601").finding(
                    t.station_id,
                    ("ballots",),
                    evidence,
                    percent=100 * v,
                    median=100 * median,
                    departement=t.departement,
                    n=len(rows),
                    z=z,
                    threshold=config.outlier_z,
                )
            )
    return out


_Row = tuple[StationTally, int, int]


def _share_scores(
    rows: list[_Row], config: ReconciliationConfig
) -> tuple[float, float, float, list[_Row], list[float]] | None:
    """Each station's share z-score: (share - median) / sqrt(binomial + between-station variance).

    Stations where the candidate expects fewer than ``config.min_expected_votes``
    votes are left out (their share is too grainy to score). Returns the pooled
    share, the median share, the between-station standard deviation, the rows
    scored and their z-scores; None when too few stations remain.
    """
    pooled = sum(votes for _, votes, _ in rows) / sum(valid for _, _, valid in rows)
    if not 0.0 < pooled < 1.0:
        return None
    least = config.min_expected_votes
    rows = [r for r in rows if r[2] * min(pooled, 1 - pooled) >= least]
    if len(rows) < config.min_peers:
        return None
    shares = [votes / valid for _, votes, valid in rows]
    median, mad = median_and_mad(shares)
    sampling = [pooled * (1 - pooled) / valid for _, _, valid in rows]
    between = max(0.0, (mad / MAD_SCALE) ** 2 - float(np.median(sampling)))
    zs = [(s - median) / math.sqrt(v + between) for s, v in zip(shares, sampling, strict=True)]
    return pooled, median, math.sqrt(between), rows, zs


def share_outliers(
    stations: Sequence[StationTally], config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """W.602 for each station and candidate of one département whose share stands out."""
    n_candidates = max((len(t.counts.candidates) for t in stations), default=0)
    out: list[Finding] = []
    for c in range(n_candidates):
        rows = [
            (t, votes, t.counts.valid)
            for t in stations
            if (votes := t.votes(c)) is not None
            and votes >= 0
            and t.counts.valid is not None
            and t.counts.valid > 0
        ]
        if len(rows) < config.min_peers:
            continue
        scored = _share_scores(rows, config)
        if scored is None:
            continue
        pooled, median, spread, rows, zs = scored
        ids = tuple(t.station_id for t, _, _ in rows)
        field = f"candidate_{c + 1}"
        for (t, votes, valid), z in zip(rows, zs, strict=True):
            if abs(z) <= config.outlier_z:
                continue
            evidence: dict[str, EvidenceValue] = {
                "votes": votes,
                "valid": valid,
                "share": votes / valid,
                "departement_share": pooled,
                "median_share": median,
                "between_station_sd": spread,
                "z": z,
                "threshold": config.outlier_z,
                "peers": tuple(i for i in ids if i != t.station_id),
            }
            out.append(
                rule("W.602").finding(
                    t.station_id,
                    (field,),
                    evidence,
                    label=field_label(field),
                    field=field,
                    percent=100 * votes / valid,
                    pooled=100 * pooled,
                    departement=t.departement,
                    n=len(rows),
                    z=z,
                    threshold=config.outlier_z,
                )
            )
    return out
