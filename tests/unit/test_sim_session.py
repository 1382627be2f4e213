"""The foundation's simulated pen: vector digits and a pen session on the wire."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_sim.session import PenIdentity, flip_bytes, session_bytes
from hardware_sim.vector_digits import DIGITS, write_digit
from pen.ink import Ink
from pen.page import PageAddress
from pen.wire import CorruptFrame, Garbage, decode_ink

PAGE = PageAddress(70, 12, 3, 41)


def digits_ink(text: str, seed: int = 0) -> Ink:
    rng = np.random.default_rng(seed)
    strokes = []
    t = 1_318_000_000_000.0
    for i, ch in enumerate(text):
        written = write_digit(ch, (20 + 8 * i, 50, 7, 9), t, pen_serial="SIM-1", page=PAGE, rng=rng)
        strokes += written
        t = written[-1].end_ms + 400
    return Ink(tuple(strokes))


@pytest.mark.parametrize("digit", DIGITS)
def test_each_digit_stays_in_its_box_and_moves_forward_in_time(digit: str) -> None:
    ink = digits_ink(digit)
    x0, y0, x1, y1 = ink.bbox()
    assert 20 <= x0 and x1 <= 27 and 50 <= y0 and y1 <= 59
    starts = [s.start_ms for s in ink]
    assert starts == sorted(starts)
    assert all(np.all(np.diff(s.t) > 0) for s in ink)


def test_unknown_character_is_refused() -> None:
    with pytest.raises(ValueError, match="no vector shape"):
        write_digit("x", (0, 0, 7, 9), 0, pen_serial="P", page=None, rng=np.random.default_rng())


def test_clean_session_decodes_to_the_same_ink() -> None:
    ink = digits_ink("2011")
    decoded, anomalies = decode_ink(session_bytes(ink, PenIdentity("SIM-1")))
    assert anomalies == []
    assert len(decoded) == len(ink)
    for a, b in zip(ink, decoded, strict=True):
        assert b.pen_serial == "SIM-1" and b.page == PAGE
        assert np.abs(a.points[:, :2] - b.points[:, :2]).max() <= 0.0375 / 2 + 1e-9
        assert np.array_equal(a.t, b.t)


def test_line_noise_costs_frames_not_the_session() -> None:
    ink = digits_ink("187")
    clean = session_bytes(ink, PenIdentity("SIM-1"))
    damaged, where = flip_bytes(clean, 3, np.random.default_rng(4))
    assert len(where) == 3 and damaged != clean
    decoded, anomalies = decode_ink(damaged)
    assert anomalies, "damage must be reported"
    assert any(isinstance(a, CorruptFrame | Garbage) for a in anomalies)
    # Each flipped byte damages at most one frame: at most 3 strokes are touched.
    assert len(decoded) >= len(ink) - 3
