"""The count segmentation's gap logistic (ocr.train_count): the fit recovers what
made the data, and fitted on UNIPEN digits laid out as counts it splits well
separated atoms and keeps touching ones together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ocr.online import GAP
from ocr.train_count import fit_gaps, fit_logistic, labelled_gaps

UNIPEN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "handwriting"


def test_fit_recovers_a_known_logistic() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.3, 0.5, 20000)
    a, b = -2.0, 30.0
    y = (rng.random(x.size) < 1 / (1 + np.exp(-(a + b * x)))).astype(float)
    fa, fb = fit_logistic(x, y)
    assert abs(fa - a) < 0.3 and abs(fb - b) < 3.0, (fa, fb)


def _boundary(gap: tuple[float, float], x: float) -> float:
    return float(1 / (1 + np.exp(-(gap[0] + gap[1] * x))))


def test_shipped_gap_splits_apart_and_keeps_touching() -> None:
    assert _boundary(GAP, 0.0) < 0.2 < 0.98 < _boundary(GAP, 0.15)


@pytest.mark.slow
def test_fitted_on_unipen_digits() -> None:
    if not (UNIPEN / "unipen-1a.jsonl.gz").exists():
        pytest.skip("../shared/data/handwriting is absent")
    from ocr.charsets import CHARSETS
    from ocr.train import load_charset

    samples = [s for s in load_charset(UNIPEN, CHARSETS["digit"]) if s.contributor != "apa"]
    gaps, bound = labelled_gaps(samples, np.random.default_rng(1), 400)
    # boundaries are the gaps the layout leaves (0.8-3 mm at 7 mm), the rest within digits
    assert bound.sum() > 300 and (gaps[bound == 1] > 0.09).all()
    a, b = fit_gaps(samples, seed=1, fields=400)
    assert b > 0 and 0.0 < -a / b < 0.15, (a, b)
