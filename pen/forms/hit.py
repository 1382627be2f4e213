"""Hit-testing: which box of a form each stroke was written in.

A stroke belongs to the box holding the largest share of its points, with
each box grown by a small margin (writers overshoot the printed lines):

- all its points in one box: that box;
- its points spread over several boxes: the box with the most points, and
  the hit lists every box touched (``straddles``), so that a reader can
  treat a digit written across two comb cells with suspicion;
- fewer than half its points in any box: outside, kept with the others
  outside so that nothing written on the page is lost.

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
#: Share of a stroke's points that must lie in its best box for it to count as inside.
MIN_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Hit:
    """Where one stroke was written."""

    box_id: str | None
    field_id: str | None
    share: float
    """Fraction of the stroke's points inside ``box_id`` (or the best box, if outside)."""
    straddles: tuple[str, ...] = ()
    """Every box holding some of the stroke's points, when more than one does."""
    outside: bool = False


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


def _box_arrays(layout: FormLayout, margin_mm: float) -> npt.NDArray[np.float64]:
    rects = np.array(
        [(b.rect.x, b.rect.y, b.rect.right, b.rect.bottom) for b in layout.boxes],
        dtype=np.float64,
    )
    rects[:, :2] -= margin_mm
    rects[:, 2:] += margin_mm
    return rects


def _hit(
    points: npt.NDArray[np.float64], rects: npt.NDArray[np.float64], layout: FormLayout
) -> Hit:
    x = points[:, 0][:, None]
    y = points[:, 1][:, None]
    inside = (x >= rects[:, 0]) & (x <= rects[:, 2]) & (y >= rects[:, 1]) & (y <= rects[:, 3])
    # With margins, a point on the line between two close boxes may be in both: count it once,
    # for the first box (comb cells are in writing order).
    first = np.argmax(inside, axis=1)
    any_box = inside.any(axis=1)
    counts = np.bincount(first[any_box], minlength=len(rects))
    n = len(points)
    touched = np.flatnonzero(counts)
    if len(touched) == 0:
        return Hit(None, None, 0.0, (), True)
    best = int(np.argmax(counts))
    share = float(counts[best]) / n
    boxes = layout.boxes
    straddles = tuple(boxes[i].id for i in touched) if len(touched) > 1 else ()
    box = boxes[best]
    if share < MIN_SHARE:
        return Hit(None, None, share, straddles, True)
    return Hit(box.id, box.field, share, straddles, False)


def hit_test(stroke: Stroke, layout: FormLayout, margin_mm: float = DEFAULT_MARGIN_MM) -> Hit:
    """The box ``stroke`` was written in (see the module docstring for the rules)."""
    return _hit(stroke.points, _box_arrays(layout, margin_mm), layout)


def assign(ink: Ink, layout: FormLayout, margin_mm: float = DEFAULT_MARGIN_MM) -> Assignment:
    """Split ``ink`` by field; fields with no ink are absent from the result."""
    rects = _box_arrays(layout, margin_mm)
    hits = tuple(_hit(s.points, rects, layout) for s in ink)
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
