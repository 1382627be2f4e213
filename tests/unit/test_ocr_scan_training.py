"""The scan model's training renders: digits sized as their writer writes them."""

from __future__ import annotations

import numpy as np

from ocr.train import Sample
from ocr.train_scan import CELL_H, _placed, writer_units


def _stroke(height: float) -> tuple[np.ndarray, ...]:
    y = np.linspace(0.0, height, 20)
    return (np.column_stack([0.2 * y, y]),)


def test_a_writer_unit_is_the_median_height_of_their_digits() -> None:
    samples = [Sample(_stroke(h), "1", "c", "w") for h in (80.0, 100.0, 130.0)]
    samples.append(Sample(_stroke(50.0), "0", "c", "other"))
    assert writer_units(samples) == {"w": 100.0, "other": 50.0}


def test_a_small_digit_stays_small_in_its_box() -> None:
    """Glyphs are scaled by the writer's unit, not stretched each to the same height."""

    def height(glyph_height: float) -> float:
        placed = _placed(_stroke(glyph_height), np.random.default_rng(3), unit=100.0)
        return float(np.ptp(np.vstack(placed)[:, 1]))

    full, half = height(100.0), height(50.0)
    assert 0.45 * CELL_H <= full <= 0.8 * CELL_H
    assert abs(half - full / 2) < 0.05 * full
