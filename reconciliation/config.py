"""Thresholds of the reconciliation rules, in one frozen settings value.

Defaults follow the Dutch Electoral Council's Abacus where it has a rule
(3% blank, 3% spoiled, 2% and 15 for ballots against voters) and are
judgement calls elsewhere, stated here so a high authority can change them
in one place. Times are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciliation.findings import ReconciliationError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
#: 2000-01-01T00:00:00Z: no pen of this election wrote before it.
Y2000_MS = 946_684_800_000


@dataclass(frozen=True, slots=True)
class ReconciliationConfig:
    """Every threshold a rule uses; build one per program and pass it down."""

    max_station_count: int = 3_000
    """The most voters (and so ballots, contributions) one station can hold."""
    blank_ratio: float = 0.03
    """W.201 fires when blank >= this share of ballots (Abacus: 3%)."""
    spoiled_ratio: float = 0.03
    """W.202 fires when spoiled >= this share of ballots (Abacus: 3%)."""
    missing_ballots_ratio: float = 0.02
    """W.203: ballots short of signatures by >= this share of signatures ..."""
    missing_ballots_min: int = 15
    """... and by at least this many (Abacus: 2% and 15)."""
    late_after_ms: float = 10 * MINUTE_MS
    """W.501: count ink this long after the median time of the PV's count ink."""
    signature_grace_ms: float = 1 * MINUTE_MS
    """F.502: count ink allowed this long after the president's signature began."""
    closing_grace_ms: float = 3 * HOUR_MS
    """F.503: counting and writing the minutes may last this long after the poll closes."""
    early_tolerance_ms: float = 15 * MINUTE_MS
    """W.507: count ink this long before the poll closes (pen clocks drift a little)."""
    rewrite_pause_ms: float = 20_000
    """W.504: a stroke on earlier ink of the same cell after this pause is a rewrite."""
    overlap_share: float = 0.25
    """W.504 without a layout: bounding boxes sharing this share of the smaller one overlap."""
    earliest_ms: float = Y2000_MS
    """W.506: ink dated before this is impossible (pen clock reset)."""
    max_future_ms: float = 48 * HOUR_MS
    """W.506: ink dated this long after the poll closes (or after receipt) is impossible."""
    paper_confidence: float = 0.9
    """F.301 when the paper's reading differs with at least this confidence (and
    ``paper_pen_chance`` holds); below: W.302."""
    paper_pen_chance: float = 0.005
    """F.301 also needs the paper reader to give the pen's own value less than this
    probability among its alternatives; a reading that leaves the pen's figure a real
    chance goes to review (W.302). Chosen on a calibration seed (docs/benchmarks.md)."""
    paper_doubt: float = 0.05
    """W.302 when an uncertain paper reading agrees with the pen but an alternative
    reading that disagrees has at least this probability."""
    outlier_z: float = 3.5
    """W.601/W.602: |modified z-score| above this is an outlier (Iglewicz and Hoaglin 1993)."""
    min_peers: int = 10
    """Across-station rules compare a station only within a département of this many stations."""
    min_expected_votes: float = 5.0
    """W.602 scores a candidate's share only where it expects this many votes (and as many
    against): the usual condition for the normal approximation of a binomial."""
    corner_share: float = 0.95
    """W.603: turnout and winner's share both at least this: the fingerprint's 100%/100% corner."""
    tail_z: float = 2.0
    """W.604: a station is in the joint upper tail when both its z-scores exceed this."""
    alpha: float = 0.01
    """W.604-W.606: family-wise error rate, Holm-corrected over the areas tested."""
    digits_min_count: int = 10
    """W.605/W.606: only candidate counts of at least this many votes give a last digit."""
    digits_min_sample: int = 50
    """W.605/W.606: a département is tested only with this many last digits (5 per cell)."""
    bootstrap_resamples: int = 1_000
    """Resamples of the bootstrap intervals quoted by W.605/W.606."""
    bootstrap_seed: int = 2012
    """Seed of those resamples, so the same data give the same interval."""

    def __post_init__(self) -> None:
        for name in (
            "blank_ratio",
            "spoiled_ratio",
            "missing_ballots_ratio",
            "overlap_share",
            "paper_confidence",
            "paper_pen_chance",
            "paper_doubt",
        ):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ReconciliationError(f"{name} is {value}; it must be in (0, 1]")
        if self.max_station_count < 1 or self.missing_ballots_min < 0:
            raise ReconciliationError("max_station_count must be >= 1, missing_ballots_min >= 0")
        if not 0.0 < self.alpha < 1.0 or not 0.0 < self.corner_share <= 1.0:
            raise ReconciliationError("alpha must be in (0, 1) and corner_share in (0, 1]")
        if self.outlier_z <= 0 or self.tail_z <= 0:
            raise ReconciliationError("outlier_z and tail_z must be positive")
        if self.min_peers < 3 or self.digits_min_sample < 10 or self.bootstrap_resamples < 100:
            raise ReconciliationError(
                "min_peers must be >= 3, digits_min_sample >= 10, bootstrap_resamples >= 100"
            )


DEFAULT_CONFIG = ReconciliationConfig()
