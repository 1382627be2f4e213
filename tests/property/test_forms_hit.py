"""Hit-testing invariants over random strokes on the real layouts."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from pen.forms import assign, hit_test, load_form
from pen.ink import Ink, Stroke

PV = load_form("pv")
BOXES = PV.boxes


def _stroke(xy: np.ndarray) -> Stroke:
    return Stroke.from_arrays(xy[:, 0], xy[:, 1], np.arange(len(xy)) * 13.0, pen_serial="P")


def _points_in(box_index: int, fractions: list[tuple[float, float]]) -> np.ndarray:
    r = BOXES[box_index].rect
    return np.array([(r.x + fx * r.width, r.y + fy * r.height) for fx, fy in fractions])


unit = st.floats(0.0, 1.0)
fractions = st.lists(st.tuples(unit, unit), min_size=1, max_size=30)
box_index = st.integers(0, len(BOXES) - 1)


@given(box_index, fractions)
def test_points_all_inside_a_box_hit_that_box(i: int, fr: list[tuple[float, float]]) -> None:
    hit = hit_test(_stroke(_points_in(i, fr)), PV, margin_mm=0.0)
    assert hit.box_id == BOXES[i].id and hit.field_id == BOXES[i].field and hit.share == 1.0


@given(box_index, box_index, fractions, fractions)
def test_points_in_two_boxes_straddle(
    i: int, j: int, a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> None:
    assume(i != j)
    pts = np.vstack([_points_in(i, a), _points_in(j, b)])
    hit = hit_test(_stroke(pts), PV, margin_mm=0.0)
    assert set(hit.straddles) == {BOXES[i].id, BOXES[j].id}
    assert not hit.outside  # every point is in a box
    # The box with more points wins; on a tie, the first in layout order.
    best = i if (len(a), -i) > (len(b), -j) else j
    assert hit.box_id == BOXES[best].id
    assert hit.share == max(len(a), len(b)) / len(pts)


@given(st.lists(st.lists(st.tuples(st.floats(0, 210), st.floats(0, 297)), min_size=1), max_size=15))
def test_assign_puts_every_stroke_in_exactly_one_place(
    strokes: list[list[tuple[float, float]]],
) -> None:
    ink = Ink(tuple(_stroke(np.array(s)) for s in strokes))
    result = assign(ink, PV)
    placed = sorted([i for idx in result.indices.values() for i in idx] + list(result.outside))
    assert placed == list(range(len(ink)))
    for fid, idx in result.indices.items():
        assert [s for s in result.fields[fid]] == [ink[i] for i in idx]
