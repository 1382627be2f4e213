"""Last-digit tests on candidates' counts, per département (W.605, W.606).

People who invent numbers pick last digits unevenly and favour round ones
(Beber and Scacco, Political Analysis 20(2), 2012). Honest counts of more
than a few dozen votes have last digits close to uniform. Per département:

- W.605: Pearson's chi-square of the ten last digits against uniform (9
  degrees of freedom), with a bootstrap interval of the mean last digit
  (4.5 expected).
- W.606: more counts ending in 0 or 5 than the 20% expected, by an exact
  one-sided binomial test, with a bootstrap interval of that share.

Weaknesses, stated in every finding's evidence by the sample it used: the
last digit of a small count is not uniform (a candidate with 3 to 12 votes
per station ends in low digits more often), so only counts of at least
``config.digits_min_count`` are used, and a département is tested only with
``config.digits_min_sample`` digits (5 expected per cell). Even so the tests
have little power on a few dozen stations: silence is not a clean bill.
p-values are Holm-corrected over the départements tested, so the chance of
any false flag in an honest election is at most ``config.alpha`` per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reconciliation.catalogue import rule
from reconciliation.config import DEFAULT_CONFIG, ReconciliationConfig
from reconciliation.findings import EvidenceValue, Finding
from reconciliation.stats import binom_sf, bootstrap_interval, chi2_uniform, holm
from reconciliation.tallies import StationTally, area_id, by_departement

ROUND_SHARE = 0.2
"""Share of honest counts expected to end in 0 or 5."""


@dataclass(frozen=True, slots=True)
class DigitTest:
    """Both last-digit tests on one département, before correction for many départements."""

    departement: str
    digits: tuple[int, ...]
    """How many counts end in 0, 1, ..., 9."""
    chi2: float
    p_uniform: float
    round_share: float
    p_round: float
    stations: int

    @property
    def n(self) -> int:
        return sum(self.digits)

    def interval(
        self, statistic: str, config: ReconciliationConfig = DEFAULT_CONFIG
    ) -> tuple[float, float]:
        """95% bootstrap interval of ``mean`` (mean last digit) or ``round`` (0/5 share)."""
        digits = np.repeat(np.arange(10), self.digits)
        return bootstrap_interval(
            digits.tolist(),
            {"mean": _mean_digit, "round": _round_share}[statistic],
            resamples=config.bootstrap_resamples,
            seed=config.bootstrap_seed,
        )


def _mean_digit(resamples: np.ndarray) -> np.ndarray:
    return np.asarray(resamples.mean(axis=1))


def _round_share(resamples: np.ndarray) -> np.ndarray:
    return np.asarray(((resamples == 0) | (resamples == 5)).mean(axis=1))


def last_digits(stations: Sequence[StationTally], min_count: int) -> list[int]:
    """Last digits of every read candidate count of at least ``min_count``."""
    return [
        v % 10 for t in stations for v in t.counts.candidates if v is not None and v >= min_count
    ]


def digit_tests(
    stations: Sequence[StationTally], config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[DigitTest]:
    """Both tests for each département with enough last digits, sorted by département."""
    out = []
    for dept, group in by_departement(stations).items():
        digits = last_digits(group, config.digits_min_count)
        if len(digits) < config.digits_min_sample:
            continue
        histogram = tuple(int(v) for v in np.bincount(digits, minlength=10))
        chi2, p_uniform = chi2_uniform(histogram)
        rounds = histogram[0] + histogram[5]
        out.append(
            DigitTest(
                dept,
                histogram,
                chi2,
                p_uniform,
                rounds / len(digits),
                binom_sf(rounds, len(digits), ROUND_SHARE),
                len(group),
            )
        )
    return out


def digit_findings(
    stations: Sequence[StationTally], config: ReconciliationConfig = DEFAULT_CONFIG
) -> list[Finding]:
    """W.605 and W.606 for the départements whose Holm-corrected p-value is below alpha."""
    tests = digit_tests(stations, config)
    fields = tuple(
        f"candidate_{i}"
        for i in range(1, 1 + max((len(t.counts.candidates) for t in stations), default=0))
    )
    out = []
    uniform_holm = holm([t.p_uniform for t in tests])
    round_holm = holm([t.p_round for t in tests])
    for t, pu, pr in zip(tests, uniform_holm, round_holm, strict=True):
        common: dict[str, EvidenceValue] = {
            "digits": t.digits,
            "sample": t.n,
            "stations": t.stations,
            "min_count": config.digits_min_count,
            "alpha": config.alpha,
            "departements_tested": len(tests),
        }
        if pu < config.alpha:
            low, high = t.interval("mean", config)
            evidence: dict[str, EvidenceValue] = {
                **common,
                "chi2": t.chi2,
                "p_value": t.p_uniform,
                "p_holm": pu,
                "mean_digit_low": low,
                "mean_digit_high": high,
            }
            out.append(
                rule("W.605").finding(
                    area_id(t.departement),
                    fields,
                    evidence,
                    departement=t.departement,
                    n=t.n,
                    chi2=t.chi2,
                    p=pu,
                    tested=len(tests),
                    low=low,
                    high=high,
                )
            )
        if pr < config.alpha:
            low, high = t.interval("round", config)
            evidence = {
                **common,
                "round_share": t.round_share,
                "expected_share": ROUND_SHARE,
                "p_value": t.p_round,
                "p_holm": pr,
                "round_share_low": low,
                "round_share_high": high,
            }
            out.append(
                rule("W.606").finding(
                    area_id(t.departement),
                    fields,
                    evidence,
                    departement=t.departement,
                    n=t.n,
                    percent=100 * t.round_share,
                    p=pr,
                    tested=len(tests),
                    low=100 * low,
                    high=100 * high,
                )
            )
    return out
