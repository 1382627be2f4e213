"""Scribbles and crossed-out boxes: ink that is not a character, or a character cancelled.

A writer who changes their mind overwrites: a scribble over a digit (the pen
going back and forth until the digit is black), a cross over it, a line
struck through a whole number, a checkbox blackened to cancel a tick. Read
as characters, such ink gives a confident wrong answer. :func:`assess`
measures the ink of each character (strokes that overlap horizontally, as
:func:`ocr.online.atoms` groups them):

- **reversals**: cusps where the pen turns back on itself (direction change
  over :data:`CUSP_DEG` within about a millimetre); a digit has 0-2 (the
  top of a ``1``, the middle of a ``3``), a back-and-forth scribble many;
- **crossings**: distinct places (1 mm apart) where the ink crosses itself
  or another stroke; a digit has 0-2 (``8``, ``4``), a digit with a cross
  or a strike through it more;
- **density**: pen-down ink length over the larger side of the ink's box; a
  digit is drawn in about 1-4 times its height, a blackened box in many;
- **struck**: the most places where one straight stroke (as long as half
  the ink) crosses the other strokes, and how many straight strokes cross
  others: the bar of a ``7`` or a slashed zero is one line crossing once or
  twice; a line through a number crosses three times or more, an X over a
  digit is two lines crossing.

A character over the thresholds (:data:`LIMITS`, set on UNIPEN digits and
the simulator's check marks so that clean ink is flagged rarely: see
docs/ocr.md and ``bench/overwriting.py``) is flagged ``scribble`` (reversals
or density) or ``crossed_out`` (crossings, struck), and the field's reading keeps
at most :data:`FLAGGED_CONFIDENCE` of confidence: it goes to review with the
flag saying why. The ink is not removed: what is under a scribble is not
guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ocr.features import FloatArray
from ocr.online import atoms
from ocr.reading import Reading

SCRIBBLE = "scribble"
CROSSED_OUT = "crossed_out"
#: Resampling step along the ink (mm).
STEP_MM = 0.25
#: A cusp: the direction turns by more than this many degrees ...
CUSP_DEG = 140.0
#: ... between the path this far (mm) before and after the point.
CUSP_SPAN_MM = 0.75
#: Crossings closer than this (mm) count once (a retraced stroke wobbles across itself).
CROSSING_GAP_MM = 1.0
#: A stroke is straight when its chord is at least this share of its length.
STRAIGHT = 0.95
#: Confidence a flagged reading keeps at most.
FLAGGED_CONFIDENCE = 0.2


@dataclass(frozen=True, slots=True)
class Limits:
    """Over any of these, a character's ink is flagged."""

    reversals: int
    crossings: int
    density: float
    struck: int
    lines: int


#: Per field kind: digits and counts (per character), checkboxes (the whole box).
LIMITS = {
    "digit": Limits(reversals=4, crossings=4, density=6.0, struck=3, lines=2),
    "checkbox": Limits(reversals=4, crossings=3, density=5.0, struck=3, lines=3),
}


@dataclass(frozen=True, slots=True)
class InkShape:
    """What the ink of one character looks like."""

    reversals: int
    crossings: int
    density: float
    struck: int
    """Most crossings of one straight stroke with the others (a line through a digit)."""
    lines: int
    """Straight strokes that cross other strokes (two for an X over a digit)."""


def _resample(xy: FloatArray, step: float) -> FloatArray:
    """Points every ``step`` mm along a polyline (its ends kept)."""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    if dist[-1] < step:
        return xy[[0, -1]] if len(xy) > 1 else xy
    s = np.linspace(0.0, dist[-1], int(np.ceil(dist[-1] / step)) + 1)
    return np.column_stack([np.interp(s, dist, xy[:, 0]), np.interp(s, dist, xy[:, 1])])


def reversals(xy: FloatArray) -> int:
    """Cusps of one resampled stroke: the pen turning back by more than :data:`CUSP_DEG`."""
    w = max(1, round(CUSP_SPAN_MM / STEP_MM))
    if len(xy) < 2 * w + 1:
        return 0
    before = xy[w:-w] - xy[: -2 * w]
    after = xy[2 * w :] - xy[w:-w]
    nb, na = np.hypot(*before.T), np.hypot(*after.T)
    ok = (nb > 1e-9) & (na > 1e-9)
    cos = np.einsum("ij,ij->i", before, after) / np.maximum(nb * na, 1e-12)
    turn = ok & (cos < np.cos(np.radians(CUSP_DEG)))
    # a cusp turns for a few points in a row: count the runs
    return int(np.sum(turn[1:] & ~turn[:-1]) + (1 if len(turn) and turn[0] else 0))


def _crossing_points(paths: Sequence[FloatArray]) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Where the resampled ink crosses itself or another stroke: points (n, 2), and the two
    strokes (n, 2) that cross there, in the order of the segment pairs (first segment, then
    second, in writing order)."""
    segs, owner, index = [], [], []
    for k, p in enumerate(paths):
        if len(p) < 2:
            continue
        segs.append(np.stack([p[:-1], p[1:]], axis=1))
        owner.append(np.full(len(p) - 1, k))
        index.append(np.arange(len(p) - 1))
    if not segs:
        return np.zeros((0, 2)), np.zeros((0, 2), np.int64)
    s = np.concatenate(segs).reshape(-1, 4)  # x0, y0, x1, y1 per segment
    own, idx = np.concatenate(owner), np.concatenate(index)
    i, j = _near_pairs(s[:, :2], s[:, 2:])
    near = ~((own[i] == own[j]) & (np.abs(idx[i] - idx[j]) <= 1))  # not neighbours
    i, j = i[near], j[near]
    p, q = s[i].T, s[j].T  # each row: x0, y0, x1, y1 of the pairs' first / second segment
    ux, uy, vx, vy = p[2] - p[0], p[3] - p[1], q[2] - q[0], q[3] - q[1]
    # orientations of each segment's ends about the other segment's line
    d1 = ux * (q[1] - p[1]) - uy * (q[0] - p[0])
    d2 = ux * (q[3] - p[1]) - uy * (q[2] - p[0])
    d3 = vx * (p[1] - q[1]) - vy * (p[0] - q[0])
    d4 = vx * (p[3] - q[1]) - vy * (p[2] - q[0])
    # proper crossings and touching ends (a crossing on a resampled point); not collinear runs
    hit = (d1 * d2 <= 0) & (d3 * d4 <= 0) & ~((d1 == 0) & (d2 == 0))
    ph, qh = p[:, hit], q[:, hit]
    where = np.column_stack([ph[0] + ph[2] + qh[0] + qh[2], ph[1] + ph[3] + qh[1] + qh[3]]) / 4
    return where, np.column_stack([own[i[hit]], own[j[hit]]]).astype(np.int64)


def _near_pairs(
    a: FloatArray, b: FloatArray
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The pairs of segments ``i < j`` (ends ``a``, ``b``) whose bounding boxes overlap, in
    lexicographic order: only these can cross. A sweep along x (segments sorted by their
    left end, each paired with those starting before its right end) instead of all n^2 / 2
    pairs, the cost of a heavily written field."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.argsort(lo[:, 0], kind="stable")
    left = lo[order, 0]
    stop = np.searchsorted(left, hi[order, 0], side="right")
    first = np.arange(len(order)) + 1
    span = np.maximum(stop - first, 0)
    start = np.repeat(first, span)
    offset = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
    u = np.repeat(order, span)
    v = order[start + offset]
    i, j = np.minimum(u, v), np.maximum(u, v)
    keep = (lo[j, 1] <= hi[i, 1]) & (lo[i, 1] <= hi[j, 1])
    i, j = i[keep], j[keep]
    sort = np.lexsort((j, i))
    return i[sort].astype(np.int64), j[sort].astype(np.int64)


def _distinct(points: FloatArray) -> int:
    """How many of ``points`` are at least :data:`CROSSING_GAP_MM` from those kept before."""
    kept = np.empty((len(points), 2))
    n = 0
    for p in points:
        if n == 0 or np.min(np.hypot(*(kept[:n] - p).T)) >= CROSSING_GAP_MM:
            kept[n] = p
            n += 1
    return n


def crossings(paths: Sequence[FloatArray]) -> int:
    """Distinct places where the resampled ink crosses itself or another stroke."""
    return _distinct(_crossing_points(paths)[0])


def struck(paths: Sequence[FloatArray]) -> int:
    """Most distinct crossings of one straight stroke (a line through the character: chord
    over :data:`STRAIGHT` of its length, as long as half the ink's larger side) with the
    other strokes."""
    return _struck(paths)[0]


def _struck(
    paths: Sequence[FloatArray],
    crossed: tuple[FloatArray, npt.NDArray[np.int64]] | None = None,
) -> tuple[int, int]:
    """:func:`struck`, and how many straight strokes cross the others (``crossed``: the
    ink's :func:`_crossing_points`, when already known)."""
    if len(paths) < 2:
        return 0, 0
    where, owners = _crossing_points(paths) if crossed is None else crossed
    pts = np.concatenate(paths)
    side = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 0.5)
    best = lines = 0
    for k, p in enumerate(paths):
        if len(p) < 2:
            continue
        length = float(np.hypot(*np.diff(p, axis=0).T).sum())
        chord = float(np.hypot(*(p[-1] - p[0])))
        if length < 0.5 * side or chord < STRAIGHT * length:
            continue
        mine = ((owners[:, 0] == k) ^ (owners[:, 1] == k)) if len(owners) else np.zeros(0, bool)
        n = _distinct(where[mine])
        best, lines = max(best, n), lines + (n > 0)
    return best, lines


def shape(strokes: Sequence[FloatArray]) -> InkShape:
    """Reversals, crossings and density of the ink of one character (or one checkbox)."""
    paths = [_resample(s[:, :2], STEP_MM) for s in strokes if len(s)]
    pts = np.concatenate([s[:, :2] for s in strokes])
    side = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 0.5)
    length = sum(float(np.hypot(*np.diff(p, axis=0).T).sum()) for p in paths if len(p) > 1)
    crossed = _crossing_points(paths)
    most, lines = _struck(paths, crossed)
    return InkShape(
        reversals=sum(reversals(p) for p in paths),
        crossings=_distinct(crossed[0]),
        density=length / side,
        struck=most,
        lines=lines,
    )


def flags_of(s: InkShape, limits: Limits) -> tuple[str, ...]:
    """The flags one character's ink earns under ``limits``."""
    out = []
    if s.reversals >= limits.reversals or s.density >= limits.density:
        out.append(SCRIBBLE)
    # One line through a digit may be its style (a slashed zero, the bar of a 7): a line
    # crossing it in three places, or two lines crossing it (an X), are not.
    two_lines = s.struck >= 2 and s.lines >= limits.lines
    if s.crossings >= limits.crossings or s.struck >= limits.struck or two_lines:
        out.append(CROSSED_OUT)
    return tuple(out)


def assess(strokes: Sequence[FloatArray], kind: str) -> tuple[str, ...]:
    """The overwriting flags of a field's ink (``checkbox``: the whole ink; digit kinds:
    each character, strokes that overlap horizontally)."""
    if not strokes:
        return ()
    if kind == "checkbox":
        return flags_of(shape(strokes), LIMITS["checkbox"])
    found: set[str] = set()
    for atom in atoms(list(strokes)):
        found.update(flags_of(shape(atom.strokes), LIMITS["digit"]))
    return tuple(f for f in (SCRIBBLE, CROSSED_OUT) if f in found)


def flagged(reading: Reading, flags: tuple[str, ...]) -> Reading:
    """``reading`` with ``flags`` and its probabilities scaled so the best is at most
    :data:`FLAGGED_CONFIDENCE` (order and ratios kept)."""
    if not flags:
        return reading
    top = min(reading.confidence, FLAGGED_CONFIDENCE)
    scale = top / max(reading.confidence, 1e-12)
    rest = tuple((t, min(p * scale, top)) for t, p in reading.alternatives[1:])
    alts = ((reading.text, top), *rest)
    return replace(reading, confidence=top, alternatives=alts, flags=flags)
