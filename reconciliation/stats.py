"""The statistics the across-station rules need, without scipy: robust z-scores,
chi-square and binomial tail probabilities, Holm's correction, bootstrap intervals.

Pure functions over plain numbers. The tail probabilities are exact (binomial)
or accurate to about 1e-12 (chi-square, through the regularised incomplete
gamma function of Numerical Recipes, 3rd ed., section 6.2), so the p-values a
finding quotes are the textbook ones a person can recompute with any
statistics package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from reconciliation.findings import ReconciliationError

#: 0.6745 = the 75th percentile of the standard normal: MAD / 0.6745 estimates sigma.
MAD_SCALE = 0.6744897501960817
#: sqrt(pi/2): mean absolute deviation / this estimates sigma (fallback when MAD is 0).
MEAN_AD_SCALE = 1.2533141373155003


def robust_z(values: Sequence[float]) -> list[float]:
    """Iglewicz and Hoaglin's modified z-score of each value: 0.6745 (x - median) / MAD.

    When more than half the values are equal the MAD is 0; the mean absolute
    deviation around the median stands in (IBM SPSS's convention). When every
    value is equal, every score is 0: nothing stands out of constant data.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return []
    med = float(np.median(x))
    dev = np.abs(x - med)
    mad = float(np.median(dev))
    if mad > 0:
        return [float(v) for v in MAD_SCALE * (x - med) / mad]
    mean_ad = float(np.mean(dev))
    if mean_ad > 0:
        return [float(v) for v in (x - med) / (MEAN_AD_SCALE * mean_ad)]
    return [0.0] * int(x.size)


def median_and_mad(values: Sequence[float]) -> tuple[float, float]:
    """The median and the median absolute deviation (unscaled) of ``values``."""
    x = np.asarray(values, dtype=float)
    med = float(np.median(x))
    return med, float(np.median(np.abs(x - med)))


def _gamma_series(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x) by its series (x < a + 1)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(10_000):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-15:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_fraction(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) by its continued fraction (x >= a + 1)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square with ``df`` degrees of freedom."""
    if df < 1:
        raise ReconciliationError(f"chi-square needs df >= 1, got {df}")
    if x <= 0:
        return 1.0
    a, half = df / 2.0, x / 2.0
    if half < a + 1.0:
        return max(0.0, 1.0 - _gamma_series(a, half))
    return min(1.0, _gamma_fraction(a, half))


def chi2_uniform(counts: Sequence[int]) -> tuple[float, float]:
    """Pearson's chi-square of ``counts`` against equal expected counts, and its p-value."""
    obs = np.asarray(counts, dtype=float)
    n = float(obs.sum())
    if n <= 0 or obs.size < 2:
        raise ReconciliationError("a chi-square test needs at least one observation in 2+ cells")
    expected = n / obs.size
    stat = float(((obs - expected) ** 2).sum() / expected)
    return stat, chi2_sf(stat, int(obs.size) - 1)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X binomial(n, p), summed exactly in log space."""
    if not 0.0 <= p <= 1.0 or n < 0:
        raise ReconciliationError(f"binomial needs n >= 0 and p in [0, 1], got n={n}, p={p}")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    j = np.arange(k, n + 1, dtype=float)
    log_terms = (
        math.lgamma(n + 1)
        - np.array([math.lgamma(v + 1) for v in j])
        - np.array([math.lgamma(n - v + 1) for v in j])
        + j * math.log(p)
        + (n - j) * math.log1p(-p)
    )
    top = float(log_terms.max())
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="stable")
    inverse = np.empty(x.size, dtype=int)
    inverse[order] = np.arange(x.size)
    ordered = x[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts)[inverse]
    bounds = np.r_[np.nonzero(starts)[0], x.size]
    return np.asarray(0.5 * (bounds[group] + bounds[group - 1] + 1), dtype=float)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's rho and its one-sided p-value for a positive correlation.

    The p-value uses the normal approximation z = rho sqrt(n - 1), good from
    about 10 pairs. A constant series correlates with nothing: rho 0, p 0.5.
    """
    if len(x) != len(y) or len(x) < 3:
        raise ReconciliationError("Spearman's rho needs two series of the same length >= 3")
    rx, ry = _ranks(x), _ranks(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return 0.0, 0.5
    rho = float(np.corrcoef(rx, ry)[0, 1])
    return rho, 0.5 * math.erfc(rho * math.sqrt(len(x) - 1) / math.sqrt(2.0))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input's order (family-wise error control)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def bootstrap_interval(
    data: Sequence[float],
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``data``.

    ``statistic`` maps a 2D array (one resample a row) to one value a row.
    Deterministic: the data are sorted first and the generator is seeded, so
    the same multiset of values gives the same interval in any input order.
    """
    x = np.sort(np.asarray(data, dtype=float))
    if x.size == 0:
        raise ReconciliationError("a bootstrap interval needs at least one value")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    stats = statistic(x[idx])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)
