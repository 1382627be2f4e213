"""Trajectory features of one handwritten character, for the online recogniser.

A glyph is a list of pen-down strokes, each an (N, 2) array of x, y (y down,
any unit). The strokes are joined in writing order into one path (the pen-up
moves between strokes kept as flagged "air" segments), normalised (centred on
the bounding box, scaled by its larger side so the aspect ratio survives) and
resampled to :data:`N_POINTS` points equally spaced along the path. Features
per point: x, y, the direction cosines of the path and the pen-up flag; then
an 8 x 8 occupancy image of the pen-down ink (independent of stroke order),
the aspect ratio and the stroke count. Feature set ``v2`` (the default) adds a
histogram of pen-down writing directions (8 directions) on a coarse 4 x 4
grid. Scale, sampling rate and position do not matter, which is what lets one
model read several digitisers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Points along the resampled path.
N_POINTS = 40
#: Side of the occupancy image.
GRID = 8
#: Points used to draw the occupancy image.
_GRID_POINTS = 96
#: Side of the direction-histogram grid (feature set ``v2``).
DIR_GRID = 4
#: Direction bins of that histogram.
DIR_BINS = 8
#: Points used for the direction histogram.
_DIR_POINTS = 160
#: Feature sets and their lengths: ``v1`` (trajectory, occupancy, aspect, strokes),
#: ``v2`` (``v1`` plus the direction histogram).
FEATURE_SETS = {
    "v1": N_POINTS * 5 + GRID * GRID + 3,
    "v2": N_POINTS * 5 + GRID * GRID + 3 + DIR_GRID * DIR_GRID * DIR_BINS,
}
#: The feature set new models are trained on.
DEFAULT_FEATURES = "v2"
#: Length of the default feature vector.
N_FEATURES = FEATURE_SETS[DEFAULT_FEATURES]


def _path(strokes: Sequence[FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Points of all strokes in order, and per segment 1.0 where it is a pen-up move."""
    pts = np.concatenate([np.asarray(s, dtype=np.float64)[:, :2] for s in strokes])
    up = np.zeros(len(pts), dtype=np.float64)
    at = 0
    for s in strokes[:-1]:
        at += len(s)
        up[at - 1] = 1.0
    return pts, up[:-1] if len(pts) > 1 else up[:0]


def _resample(pts: FloatArray, up: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    if len(pts) < 2:
        return np.repeat(pts[:1], n, axis=0), np.zeros(n)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0.0:
        return np.repeat(pts[:1], n, axis=0), np.zeros(n)
    u = np.linspace(0.0, cum[-1], n)
    idx = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(seg) - 1)
    frac = (u - cum[idx]) / np.maximum(seg[idx], 1e-12)
    out = pts[idx] + np.clip(frac, 0.0, 1.0)[:, None] * (pts[idx + 1] - pts[idx])
    return out, up[idx]


def normalise(strokes: Sequence[FloatArray]) -> tuple[list[FloatArray], float]:
    """Strokes centred on their bounding box and scaled by its larger side; and the
    aspect ratio (width / height)."""
    pts = np.concatenate([np.asarray(s, dtype=np.float64)[:, :2] for s in strokes])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    w, h = hi - lo
    side = max(float(w), float(h), 1e-9)
    centre = (lo + hi) / 2
    out = [(np.asarray(s, dtype=np.float64)[:, :2] - centre) / side for s in strokes]
    return out, float(w) / max(float(h), 1e-9)


def _direction_histogram(pts: FloatArray, up: FloatArray) -> FloatArray:
    """Share of the pen-down path per (grid cell, direction), scaled by 10."""
    res, res_up = _resample(pts, up, _DIR_POINTS)
    d = np.diff(res, axis=0)
    down = res_up[:-1] == 0.0
    hist = np.zeros((DIR_GRID, DIR_GRID, DIR_BINS))
    if down.any():
        d, mid = d[down], ((res[:-1] + res[1:]) / 2)[down]
        ang = np.arctan2(d[:, 1], d[:, 0])
        b = ((ang + np.pi) / (2 * np.pi) * DIR_BINS).astype(np.int64) % DIR_BINS
        g = np.clip(((mid + 0.5) * DIR_GRID).astype(np.int64), 0, DIR_GRID - 1)
        np.add.at(hist, (g[:, 1], g[:, 0], b), 1.0)
        hist *= 10.0 / len(d)
    return hist.ravel()


def glyph_features(
    strokes: Sequence[FloatArray], feature_set: str = DEFAULT_FEATURES
) -> FloatArray:
    """The feature vector (length ``FEATURE_SETS[feature_set]``) of one character's strokes."""
    norm, aspect = normalise(strokes)
    pts, up = _path(norm)
    res, res_up = _resample(pts, up, N_POINTS)
    d = np.diff(res, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    d = np.vstack([d, d[-1:]])
    dense, dense_up = _resample(pts, up, _GRID_POINTS)
    ink = dense[dense_up == 0.0]
    grid = np.zeros((GRID, GRID))
    if len(ink):
        g = np.clip((ink + 0.5) * (GRID - 1), 0.0, GRID - 1 - 1e-9)
        i0 = g.astype(np.int64)
        f = g - i0
        for dx in (0, 1):
            for dy in (0, 1):
                wgt = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1])
                np.add.at(grid, (np.minimum(i0[:, 1] + dy, GRID - 1), i0[:, 0] + dx), wgt)
        grid /= grid.max()
    extra = np.array([np.log(np.clip(aspect, 0.05, 20.0)), min(len(strokes), 5) / 5.0, 1.0])
    parts = [res[:, 0] * 2, res[:, 1] * 2, d[:, 0], d[:, 1], res_up, grid.ravel(), extra]
    if feature_set == "v2":
        parts.append(_direction_histogram(pts, up))
    elif feature_set != "v1":
        raise ValueError(f"unknown feature set {feature_set!r}; known: {sorted(FEATURE_SETS)}")
    return np.concatenate(parts)


def batch_features(
    glyphs: Sequence[Sequence[FloatArray]], feature_set: str = DEFAULT_FEATURES
) -> FloatArray:
    """Features of many glyphs, one row each."""
    out = np.empty((len(glyphs), FEATURE_SETS[feature_set]))
    for i, g in enumerate(glyphs):
        out[i] = glyph_features(g, feature_set)
    return out
