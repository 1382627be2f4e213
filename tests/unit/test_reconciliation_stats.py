"""The statistics under the across-station rules, against textbook values."""

from __future__ import annotations

import math

import pytest

from reconciliation import ReconciliationError
from reconciliation.stats import binom_sf, bootstrap_interval, chi2_sf, chi2_uniform, holm, robust_z


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (16.918977604620448, 9, 0.05),  # chi2.ppf(0.95, 9)
        (21.665994333461924, 9, 0.01),
        (3.841458820694124, 1, 0.05),
        (2.0, 2, math.exp(-1.0)),  # df 2: sf = exp(-x/2)
        (40.0, 2, math.exp(-20.0)),
    ],
)
def test_chi2_sf_matches_tables(x: float, df: int, p: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


def test_chi2_uniform_on_a_known_histogram() -> None:
    stat, p = chi2_uniform([20, 10, 10, 10, 10, 10, 10, 10, 10, 0])
    assert stat == pytest.approx(20.0)  # (10^2 + 10^2) / 10
    assert p == pytest.approx(chi2_sf(20.0, 9))
    with pytest.raises(ReconciliationError):
        chi2_uniform([0, 0])


def test_binom_sf_against_the_sum() -> None:
    n, p = 12, 0.2
    for k in range(0, n + 2):
        exact = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))
        assert binom_sf(k, n, p) == pytest.approx(exact, abs=1e-14)


def test_holm_known_values() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_robust_z_constant_and_mostly_constant() -> None:
    assert robust_z([7.0] * 5) == [0.0] * 5
    z = robust_z([1, 1, 1, 1, 5])  # MAD 0: mean absolute deviation stands in
    assert z[:4] == [0.0] * 4
    assert z[4] > 3.5


def test_bootstrap_interval_is_order_free_and_covers_the_mean() -> None:
    data = [float(i % 10) for i in range(200)]

    def mean(m):  # type: ignore[no-untyped-def]
        return m.mean(axis=1)

    a = bootstrap_interval(data, mean, resamples=500, seed=3)
    b = bootstrap_interval(list(reversed(data)), mean, resamples=500, seed=3)
    assert a == b
    assert a[0] < 4.5 < a[1]
