"""Hit-testing: which box of a form each stroke was written in.

A stroke belongs to the box holding the largest share of its points, with
each box grown by a small margin (writers overshoot the printed lines):

- all its points in one box: that box;
- its points spread over several boxes: the box with the most points (the
  first in writing order on a tie), and the hit lists every box touched
  (``straddles``), so that a reader can treat a digit written across two
  comb cells with suspicion; a line struck through a whole comb stays in
  its field;
- fewer than half its points inside boxes at all: outside, kept with the
  others outside so that nothing written on the page is lost.

Grown by the margin, two close boxes (comb cells 1 mm apart) share a strip;
a point there counts for the box it is nearer to (distance to the printed
rectangle), so the margin never favours one neighbour.

Point counts (not ink length) decide, because pens sample at a fixed rate:
points measure the time spent writing in a box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pen.forms.model import FormLayout
from pen.ink import Ink, Stroke

#: Default tolerance around each box, in mm.
DEFAULT_MARGIN_MM = 1.0
#: Share of a stroke's points that must lie in boxes (any of them) for it to count as inside.
MIN_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Hit:
    """Where one stroke was written."""

    box_id: str | None
    field_id: str | None
    share: float
    """Fraction of the stroke's points counted for ``box_id`` (or for the best box, if outside)."""
    straddles: tuple[str, ...] = ()
    """Every box holding some of the stroke's points, when more than one does."""
    outside: bool = False
    shares: tuple[tuple[str, float], ...] = ()
    """Every box touched, with its fraction of the stroke's points; largest first."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """Ink split by field: every stroke is in exactly one field or in ``outside``."""

    fields: dict[str, Ink]
    indices: dict[str, tuple[int, ...]]
    """Field id -> positions of its strokes in the ink given to :func:`assign`."""
    outside: tuple[int, ...]
    """Positions of the strokes outside every box."""
    hits: tuple[Hit, ...] = field(repr=False)
    """One hit per stroke, in ink order."""


def _box_arrays(layout: FormLayout) -> npt.NDArray[np.float64]:
    """(left, top, right, bottom) of every box, in layout order."""
    return np.array(
        [(b.rect.x, b.rect.y, b.rect.right, b.rect.bottom) for b in layout.boxes],
        dtype=np.float64,
    ).reshape(-1, 4)


def _hit(
    points: npt.NDArray[np.float64],
    rects: npt.NDArray[np.float64],
    layout: FormLayout,
    margin_mm: float,
) -> Hit:
    if not margin_mm >= 0.0:
        raise ValueError(f"margin_mm must be zero or more, got {margin_mm!r}")
    x = points[:, 0][:, None]
    y = points[:, 1][:, None]
    # Distance from each point (rows) to each printed box (columns); 0 inside.
    dx = np.maximum(np.maximum(rects[:, 0] - x, x - rects[:, 2]), 0.0)
    dy = np.maximum(np.maximum(rects[:, 1] - y, y - rects[:, 3]), 0.0)
    dist = np.hypot(dx, dy)
    # Within the margin of a box means inside its grown rectangle (corners squared off).
    near = (dx <= margin_mm) & (dy <= margin_mm)
    dist = np.where(near, dist, np.inf)
    in_some_box = near.any(axis=1)
    nearest = np.argmin(dist, axis=1)  # first box on a tie
    counts = np.bincount(nearest[in_some_box], minlength=len(rects))
    n = len(points)
    touched = np.flatnonzero(counts)
    if len(touched) == 0:
        return Hit(None, None, 0.0, (), True)
    best = int(np.argmax(counts))
    share = float(counts[best]) / n
    boxes = layout.boxes
    straddles = tuple(boxes[i].id for i in touched) if len(touched) > 1 else ()
    by_share = touched[np.argsort(-counts[touched], kind="stable")]
    shares = tuple((boxes[i].id, float(counts[i]) / n) for i in by_share)
    if float(in_some_box.sum()) / n < MIN_SHARE:
        return Hit(None, None, share, straddles, True, shares)
    box = boxes[best]
    return Hit(box.id, box.field, share, straddles, False, shares)


def hit_test(stroke: Stroke, layout: FormLayout, margin_mm: float = DEFAULT_MARGIN_MM) -> Hit:
    """The box ``stroke`` was written in (see the module docstring for the rules)."""
    return _hit(stroke.points, _box_arrays(layout), layout, margin_mm)


def assign(ink: Ink, layout: FormLayout, margin_mm: float = DEFAULT_MARGIN_MM) -> Assignment:
    """Split ``ink`` by field; fields with no ink are absent from the result."""
    rects = _box_arrays(layout)
    hits = tuple(_hit(s.points, rects, layout, margin_mm) for s in ink)
    indices: dict[str, list[int]] = {}
    outside: list[int] = []
    for i, h in enumerate(hits):
        if h.field_id is None:
            outside.append(i)
        else:
            indices.setdefault(h.field_id, []).append(i)
    return Assignment(
        fields={fid: Ink(tuple(ink[i] for i in idx)) for fid, idx in indices.items()},
        indices={fid: tuple(idx) for fid, idx in indices.items()},
        outside=tuple(outside),
        hits=hits,
    )
