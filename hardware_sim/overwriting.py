"""Overwritten ink: scribbles, crosses and strike-throughs over what was written.

A writer who changes their mind on paper cancels what they wrote: scribbles
over a digit until it is black, crosses it out, strikes a line through a
whole number, or blackens a checkbox. These draw such strokes in a box (page
millimetres), sampled at the pen's 75 Hz like the simulator's other ink,
seeded, to test that recognition flags them (:mod:`ocr.overwriting`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pen.forms.model import Rect
from pen.ink import Stroke
from pen.page import PageAddress

Poly = npt.NDArray[np.float64]
RATE_HZ = 75.0


def _stroke(
    corners: Poly, t0: float, serial: str, page: PageAddress | None, rng: np.random.Generator
) -> Stroke:
    """A stroke through ``corners`` at a hand's speed (40-90 mm/s), sampled at 75 Hz."""
    seg = np.hypot(*np.diff(corners, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(4, int(dist[-1] / float(rng.uniform(40, 90)) * RATE_HZ) + 1)
    s = np.linspace(0.0, dist[-1], n)
    x, y = np.interp(s, dist, corners[:, 0]), np.interp(s, dist, corners[:, 1])
    x, y = x + rng.normal(0, 0.05, n), y + rng.normal(0, 0.05, n)
    force = 0.05 + 0.55 * np.sin(np.pi * np.linspace(0.05, 0.95, n)) ** 0.5
    pts = np.column_stack([x, y, np.round(t0 + np.arange(n) * 1000 / RATE_HZ), force])
    return Stroke(pts, serial, page)


def scribble(
    rect: Rect,
    t0: float,
    rng: np.random.Generator,
    *,
    serial: str = "",
    page: PageAddress | None = None,
) -> list[Stroke]:
    """Back and forth over the box (6-14 passes, drifting down), as to black out a digit."""
    passes = int(rng.integers(6, 15))
    horizontal = rng.random() < 0.6
    u = np.where(np.arange(passes + 1) % 2 == 0, 0.1, 0.9) + rng.normal(0, 0.05, passes + 1)
    v = np.linspace(0.12, 0.88, passes + 1) + rng.normal(0, 0.03, passes + 1)
    fx, fy = (u, v) if horizontal else (v, u)
    corners = np.column_stack([rect.x + fx * rect.width, rect.y + fy * rect.height])
    return [_stroke(corners, t0, serial, page, rng)]


def loops(
    rect: Rect,
    t0: float,
    rng: np.random.Generator,
    *,
    serial: str = "",
    page: PageAddress | None = None,
) -> list[Stroke]:
    """Circling over the box (3-6 overlapping loops drifting across it)."""
    turns = rng.uniform(3, 6)
    th = np.linspace(0, 2 * np.pi * turns, int(40 * turns))
    drift = np.linspace(-0.25, 0.25, len(th))
    r = rng.uniform(0.25, 0.4)
    fx = 0.5 + drift + r * np.cos(th)
    fy = 0.5 + r * 1.2 * np.sin(th) + rng.normal(0, 0.02, len(th))
    corners = np.column_stack([rect.x + fx * rect.width, rect.y + fy * rect.height])
    return [_stroke(corners, t0, serial, page, rng)]


def cross(
    rect: Rect,
    t0: float,
    rng: np.random.Generator,
    *,
    serial: str = "",
    page: PageAddress | None = None,
) -> list[Stroke]:
    """An X from corner to corner (two strokes)."""
    j = rng.uniform(0.0, 0.15, 4)
    a = np.array(
        [
            [rect.x + j[0] * rect.width, rect.y + j[1] * rect.height],
            [rect.right - j[2] * rect.width, rect.bottom - j[3] * rect.height],
        ]
    )
    b = np.array(
        [
            [rect.right - j[1] * rect.width, rect.y + j[0] * rect.height],
            [rect.x + j[3] * rect.width, rect.bottom - j[2] * rect.height],
        ]
    )
    first = _stroke(a, t0, serial, page, rng)
    return [
        first,
        _stroke(b, float(first.points[-1, 2]) + rng.uniform(150, 400), serial, page, rng),
    ]


def strike(
    rect: Rect,
    t0: float,
    rng: np.random.Generator,
    *,
    serial: str = "",
    page: PageAddress | None = None,
    lines: int = 1,
) -> list[Stroke]:
    """``lines`` lines struck through the box (a whole number), near its middle."""
    out: list[Stroke] = []
    t = t0
    for k in range(lines):
        y = rect.y + rect.height * (0.5 + (k - (lines - 1) / 2) * 0.18 + rng.normal(0, 0.05))
        tilt = rng.normal(0, 0.04) * rect.width
        corners = np.array([[rect.x - 0.5, y - tilt], [rect.right + 0.5, y + tilt]])
        s = _stroke(corners, t, serial, page, rng)
        out.append(s)
        t = float(s.points[-1, 2]) + rng.uniform(150, 400)
    return out
