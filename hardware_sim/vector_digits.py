"""Single-stroke vector digits: a stand-in pen writer for demos and protocol tests.

These are geometric shapes, not handwriting: each digit is one or two
polylines in a unit box, scaled into a form box, with a little seeded jitter
and sampled at the pen's rate. Realistic handwriting composed from real
glyphs is :mod:`hardware_sim`'s main job (issue 3) and will replace this
writer wherever looks matter; the shapes here stay useful where a test needs
ink whose meaning is known exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pen.ink import Stroke
from pen.page import PageAddress

Poly = npt.NDArray[np.float64]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> Poly:
    a = np.radians(np.linspace(a0, a1, n))
    return np.column_stack([cx + rx * np.cos(a), cy + ry * np.sin(a)])


def _line(*pts: tuple[float, float]) -> Poly:
    return np.array(pts, dtype=np.float64)


# Unit box: x right, y down, 0..1. Angles in degrees, y down (90 = bottom).
_SHAPES: dict[str, list[Poly]] = {
    "0": [_arc(0.5, 0.5, 0.35, 0.48, -90, 270, 40)],
    "1": [np.vstack([_line((0.3, 0.2)), _line((0.55, 0.0), (0.55, 1.0))])],
    "2": [np.vstack([_arc(0.5, 0.28, 0.32, 0.26, 200, 380, 20), _line((0.15, 1.0), (0.9, 1.0))])],
    "3": [
        np.vstack(
            [_arc(0.48, 0.26, 0.3, 0.24, 210, 450, 20), _arc(0.48, 0.74, 0.33, 0.26, 270, 510, 20)]
        )
    ],
    "4": [_line((0.65, 1.0), (0.65, 0.0), (0.1, 0.68), (0.9, 0.68))],
    "5": [
        np.vstack(
            [
                _line((0.82, 0.0), (0.28, 0.0), (0.22, 0.42)),
                _arc(0.5, 0.68, 0.33, 0.31, 240, 500, 24),
            ]
        )
    ],
    "6": [
        np.vstack(
            [_arc(0.62, 0.5, 0.45, 0.5, 250, 180, 10), _arc(0.5, 0.72, 0.33, 0.27, 180, 540, 30)]
        )
    ],
    "7": [_line((0.1, 0.0), (0.9, 0.0), (0.38, 1.0))],
    "8": [
        np.vstack(
            [
                _arc(0.5, 0.25, 0.28, 0.24, 90, 450, 30)[:22],
                _arc(0.5, 0.74, 0.34, 0.26, -90, 270, 34),
                _arc(0.5, 0.25, 0.28, 0.24, 90, 450, 30)[22:],
            ]
        )
    ],
    "9": [np.vstack([_arc(0.48, 0.3, 0.32, 0.29, 0, 360, 30), _line((0.8, 0.3), (0.72, 1.0))])],
}

DIGITS = tuple(sorted(_SHAPES))


def _resample(poly: Poly, step: float) -> Poly:
    seg = np.hypot(*np.diff(poly, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(dist[-1] / step) + 1)
    at = np.linspace(0.0, dist[-1], n)
    return np.column_stack([np.interp(at, dist, poly[:, 0]), np.interp(at, dist, poly[:, 1])])


def write_digit(
    digit: str,
    box: tuple[float, float, float, float],
    t0_ms: float,
    *,
    pen_serial: str,
    page: PageAddress | None,
    rng: np.random.Generator,
    rate_hz: float = 75.0,
    speed_mm_s: float = 25.0,
) -> list[Stroke]:
    """Strokes of ``digit`` inside ``box`` = (x, y, width, height) in mm, starting at t0."""
    if digit not in _SHAPES:
        raise ValueError(f"no vector shape for {digit!r}; digits are {''.join(DIGITS)}")
    x, y, w, h = box
    margin = 0.18
    sx, sy = w * (1 - 2 * margin), h * (1 - 2 * margin)
    slant = rng.normal(0.12, 0.05)
    strokes: list[Stroke] = []
    t = t0_ms
    step = speed_mm_s / rate_hz
    for poly in _SHAPES[digit]:
        pts = _resample(poly * [sx, sy], step)
        pts[:, 0] += (sy - pts[:, 1]) * slant
        pts += [x + w * margin, y + h * margin]
        pts += rng.normal(0.0, 0.05, pts.shape)
        n = len(pts)
        times = t + np.arange(n) * (1000.0 / rate_hz)
        force = np.clip(np.sin(np.linspace(0.15, np.pi - 0.15, n)) * 0.8, 0.05, 1.0)
        strokes.append(
            Stroke.from_arrays(
                pts[:, 0], pts[:, 1], np.round(times), force, pen_serial=pen_serial, page=page
            )
        )
        t = float(np.round(times[-1])) + rng.uniform(120, 300)
    return strokes


def write_comb(
    text: str,
    cells: Sequence[tuple[float, float, float, float]],
    t0_ms: float,
    *,
    pen_serial: str,
    page: PageAddress | None,
    rng: np.random.Generator,
    align: str = "right",
) -> list[Stroke]:
    """Write ``text`` one digit per comb cell (right-aligned, as counts are written)."""
    if len(text) > len(cells):
        raise ValueError(f"{text!r} has {len(text)} digits; the comb has {len(cells)} cells")
    first = len(cells) - len(text) if align == "right" else 0
    strokes: list[Stroke] = []
    t = t0_ms
    for ch, cell in zip(text, cells[first:], strict=False):
        written = write_digit(ch, cell, t, pen_serial=pen_serial, page=page, rng=rng)
        strokes += written
        t = written[-1].end_ms + rng.uniform(150, 450)
    return strokes
