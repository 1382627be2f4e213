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
grid. Feature set ``v3`` adds the raw resampled track (:data:`TRACK_POINTS`
points of x, y, pen-up, normalised as above) that a convolutional member reads
(:func:`track_channels` turns it into its input channels). Scale, sampling
rate and position do not matter, which is what lets one model read several
digitisers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

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
#: Points of the resampled track (feature set ``v3``).
TRACK_POINTS = 64
#: Channels :func:`track_channels` makes of a track.
TRACK_CHANNELS = 7
_V2 = N_POINTS * 5 + GRID * GRID + 3 + DIR_GRID * DIR_GRID * DIR_BINS
#: Feature sets and their lengths: ``v1`` (trajectory, occupancy, aspect, strokes),
#: ``v2`` (``v1`` plus the direction histogram), ``v3`` (``v2`` then the raw track,
#: x, y, pen-up per point, for convolutional members).
FEATURE_SETS = {
    "v1": N_POINTS * 5 + GRID * GRID + 3,
    "v2": _V2,
    "v3": _V2 + TRACK_POINTS * 3,
}
#: Where the track starts in a ``v3`` feature vector.
TRACK_OFFSET = _V2
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


class _Path:
    """A joined path with its cumulative length, resampled at several resolutions."""

    __slots__ = ("cum", "pts", "seg", "up")

    def __init__(self, pts: FloatArray, up: FloatArray) -> None:
        self.pts, self.up = pts, up
        d = np.diff(pts, axis=0)
        self.seg = np.hypot(d[:, 0], d[:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(self.seg)])

    def resample(self, n: int) -> tuple[FloatArray, FloatArray]:
        """``n`` points equally spaced along the path, and the pen-up flag of each."""
        pts, seg, cum = self.pts, self.seg, self.cum
        if len(pts) < 2 or cum[-1] <= 0.0:
            return np.repeat(pts[:1], n, axis=0), np.zeros(n)
        # np.linspace and np.clip, written out: their Python wrappers cost more than the work
        u = _steps(n) * (cum[-1] / (n - 1))
        u[-1] = cum[-1]
        idx = np.minimum(np.maximum(np.searchsorted(cum, u, side="right") - 1, 0), len(seg) - 1)
        frac = (u - cum[idx]) / np.maximum(seg[idx], 1e-12)
        frac = np.minimum(np.maximum(frac, 0.0), 1.0)
        out = pts[idx] + frac[:, None] * (pts[idx + 1] - pts[idx])
        return out, self.up[idx]


@cache
def _steps(n: int) -> FloatArray:
    out: FloatArray = np.arange(n, dtype=np.float64)
    out.flags.writeable = False
    return out


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


def _direction_histogram(path: _Path) -> FloatArray:
    """Share of the pen-down path per (grid cell, direction), scaled by 10."""
    res, res_up = path.resample(_DIR_POINTS)
    d = np.diff(res, axis=0)
    down = res_up[:-1] == 0.0
    size = DIR_GRID * DIR_GRID * DIR_BINS
    if not down.any():
        return np.zeros(size)
    d, mid = d[down], ((res[:-1] + res[1:]) / 2)[down]
    ang = np.arctan2(d[:, 1], d[:, 0])
    b = ((ang + np.pi) / (2 * np.pi) * DIR_BINS).astype(np.int64) % DIR_BINS
    g = np.minimum(np.maximum(((mid + 0.5) * DIR_GRID).astype(np.int64), 0), DIR_GRID - 1)
    cells = (g[:, 1] * DIR_GRID + g[:, 0]) * DIR_BINS + b
    hist: FloatArray = np.bincount(cells, minlength=size).astype(np.float64)
    return hist * (10.0 / len(d))


def glyph_features(
    strokes: Sequence[FloatArray], feature_set: str = DEFAULT_FEATURES
) -> FloatArray:
    """The feature vector (length ``FEATURE_SETS[feature_set]``) of one character's strokes."""
    norm, aspect = normalise(strokes)
    path = _Path(*_path(norm))
    res, res_up = path.resample(N_POINTS)
    d = np.diff(res, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    d = np.vstack([d, d[-1:]])
    dense, dense_up = path.resample(_GRID_POINTS)
    ink = dense[dense_up == 0.0]
    grid = np.zeros(GRID * GRID)
    if len(ink):
        g = np.minimum(np.maximum((ink + 0.5) * (GRID - 1), 0.0), GRID - 1 - 1e-9)
        i0 = g.astype(np.int64)
        f = g - i0
        for dx in (0, 1):
            for dy in (0, 1):
                wgt = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1])
                cell = np.minimum(i0[:, 1] + dy, GRID - 1) * GRID + i0[:, 0] + dx
                grid += np.bincount(cell, wgt, minlength=GRID * GRID)
        grid /= grid.max()
    extra = np.array([np.log(min(max(aspect, 0.05), 20.0)), min(len(strokes), 5) / 5.0, 1.0])
    parts = [res[:, 0] * 2, res[:, 1] * 2, d[:, 0], d[:, 1], res_up, grid, extra]
    if feature_set in ("v2", "v3"):
        parts.append(_direction_histogram(path))
    if feature_set == "v3":
        parts.append(_track(path))
    elif feature_set not in ("v1", "v2"):
        raise ValueError(f"unknown feature set {feature_set!r}; known: {sorted(FEATURE_SETS)}")
    return np.concatenate(parts)


def batch_features(
    glyphs: Sequence[Sequence[FloatArray]],
    feature_set: str = DEFAULT_FEATURES,
    *,
    track_only: bool = False,
) -> FloatArray:
    """Features of many glyphs, one row each. ``track_only`` (feature set ``v3``): only the
    track is computed, the rest left zero, for models whose members read nothing else."""
    out = np.empty((len(glyphs), FEATURE_SETS[feature_set]))
    if track_only:
        if feature_set != "v3":
            raise ValueError("only feature set 'v3' holds a track")
        out[:, :TRACK_OFFSET] = 0.0
        for i, g in enumerate(glyphs):
            out[i, TRACK_OFFSET:] = glyph_track(g)
        return out
    for i, g in enumerate(glyphs):
        out[i] = glyph_features(g, feature_set)
    return out


def glyph_track(strokes: Sequence[FloatArray]) -> FloatArray:
    """The track part of feature set ``v3``: the joined, normalised path resampled to
    :data:`TRACK_POINTS` points, x, y, pen-up per point (as :func:`glyph_features`)."""
    return _track(_Path(*_path(normalise(strokes)[0])))


def _track(path: _Path) -> FloatArray:
    track, track_up = path.resample(TRACK_POINTS)
    out: FloatArray = np.column_stack([track, track_up]).ravel()
    return out


def track_channels(tracks: FloatArray) -> FloatArray:
    """Input channels (n, :data:`TRACK_CHANNELS`, points) of tracks (n, points, 3: x, y,
    pen-up): position (re-centred on the bounding box, scaled by its larger side, times 2),
    direction cosines of the path, cosine and sine of its turn at each point (curvature),
    and the pen-up flag. Re-normalising here lets training distort tracks freely."""
    pts, up = tracks[..., :2], tracks[..., 2]
    lo, hi = pts.min(axis=1, keepdims=True), pts.max(axis=1, keepdims=True)
    side = np.maximum((hi - lo).max(axis=2, keepdims=True), 1e-9)
    pos = (pts - (lo + hi) / 2) / side * 2
    d = np.diff(pos, axis=1)
    d = d / np.maximum(np.hypot(d[..., 0], d[..., 1]), 1e-9)[..., None]
    d = np.concatenate([d, d[:, -1:]], axis=1)
    nxt = np.concatenate([d[:, 1:], d[:, -1:]], axis=1)
    cos = (d * nxt).sum(axis=2)
    sin = d[..., 0] * nxt[..., 1] - d[..., 1] * nxt[..., 0]
    out: FloatArray = np.stack(
        [pos[..., 0], pos[..., 1], d[..., 0], d[..., 1], cos, sin, up], axis=1
    )
    return out


#: Side, in pixels, of the ink image :func:`render` draws.
IMAGE_SIDE = 28
#: Blur of the drawn line, pixels (standard deviation).
_PEN_SIGMA = 0.9
_SUB = 4


@cache
def _blur_matrix(side: int) -> FloatArray:
    i = np.arange(side)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / _PEN_SIGMA) ** 2)
    out: FloatArray = g / (np.sqrt(2 * np.pi) * _PEN_SIGMA)
    out.flags.writeable = False
    return out


def render(tracks: FloatArray, side: int = IMAGE_SIDE) -> FloatArray:
    """Images (n, side, side) of tracks' pen-down ink: the glyph scaled by its larger side
    into the image (2-pixel margin), each pen-down segment drawn as a line of even
    darkness per unit length (sub-sampled, splatted bilinearly, blurred), saturating at 1.
    The pen's width and the sampling rate drop out; stroke order does not matter."""
    n = len(tracks)
    ch = track_channels(tracks)
    pos = np.stack([ch[:, 0], ch[:, 1]], axis=2)  # (n, t, 2) in [-1, 1]
    px = (pos + 1.0) / 2.0 * (side - 5) + 2.0
    a, b = px[:, :-1], px[:, 1:]
    down = tracks[:, :-1, 2] == 0.0
    length = np.hypot(*(b - a).transpose(2, 0, 1)) * down  # (n, t-1)
    f = np.arange(_SUB) / _SUB
    pts = a[:, :, None, :] + f[None, None, :, None] * (b - a)[:, :, None, :]
    wgt = np.broadcast_to((length / _SUB)[:, :, None], pts.shape[:3])
    pts, wgt = pts.reshape(n, -1, 2), wgt.reshape(n, -1)
    # np.clip written out (its wrapper costs more than the work on one glyph)
    x0 = np.minimum(np.maximum(np.floor(pts[..., 0]).astype(np.int64), 0), side - 2)
    y0 = np.minimum(np.maximum(np.floor(pts[..., 1]).astype(np.int64), 0), side - 2)
    fx = np.minimum(np.maximum(pts[..., 0] - x0, 0.0), 1.0)
    fy = np.minimum(np.maximum(pts[..., 1] - y0, 0.0), 1.0)
    base = np.arange(n)[:, None] * side * side
    img = np.zeros(n * side * side)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            idx = base + (y0 + dy) * side + x0 + dx
            img += np.bincount(idx.ravel(), (wgt * wy * wx).ravel(), n * side * side)
    g = _blur_matrix(side)
    blurred = g @ img.reshape(n, side, side) @ g.T
    peak = 1.0 / (np.sqrt(2 * np.pi) * _PEN_SIGMA)
    out: FloatArray = np.minimum(blurred / peak, 1.0)
    return out
