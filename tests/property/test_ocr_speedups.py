"""What ocr computes faster gives what it gave: the crossing search of ``ocr.overwriting``
(a sweep along x instead of every pair) and the beam of comb fields without rules (numpy
instead of Python tuples)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr.fields import _free_beam, _ruled_beam
from ocr.overwriting import _crossing_points, _near_pairs

coords = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False, allow_infinity=False)
polyline = st.lists(st.tuples(coords, coords), min_size=1, max_size=30).map(np.array)


def _every_pair_overlapping(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return [
        (i, j)
        for i in range(len(a))
        for j in range(i + 1, len(a))
        if (lo[i] <= hi[j]).all() and (lo[j] <= hi[i]).all()
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(coords, coords, coords, coords), min_size=1, max_size=60))
def test_the_sweep_finds_every_overlapping_pair_once_in_order(segs: list[tuple]) -> None:
    s = np.array(segs, dtype=np.float64)
    a, b = s[:, :2], s[:, 2:]
    i, j = _near_pairs(a, b)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == _every_pair_overlapping(a, b)


def _crossings_of_every_pair(paths: list[np.ndarray]) -> list[tuple[float, float, int, int]]:
    segs = [
        (p[k], p[k + 1], n, k) for n, p in enumerate(paths) if len(p) > 1 for k in range(len(p) - 1)
    ]
    out = []
    for x in range(len(segs)):
        for y in range(x + 1, len(segs)):
            (a, b, o1, k1), (c, d, o2, k2) = segs[x], segs[y]
            if o1 == o2 and abs(k1 - k2) <= 1:
                continue

            def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
                return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

            d1, d2, d3, d4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
            boxes = (np.minimum(a, b) <= np.maximum(c, d)).all() and (
                np.minimum(c, d) <= np.maximum(a, b)
            ).all()
            if boxes and d1 * d2 <= 0 and d3 * d4 <= 0 and not (d1 == 0 and d2 == 0):
                w = (a + b + c + d) / 4
                out.append((float(w[0]), float(w[1]), o1, o2))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(polyline, min_size=1, max_size=4))
def test_crossings_are_those_of_every_pair_in_the_same_order(paths: list[np.ndarray]) -> None:
    where, owners = _crossing_points(paths)
    got = [
        (float(w[0]), float(w[1]), int(o[0]), int(o[1])) for w, o in zip(where, owners, strict=True)
    ]
    want = _crossings_of_every_pair(paths)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[2:] == w[2:]
        assert np.allclose(g[:2], w[:2], rtol=0, atol=1e-9)


cell = st.one_of(
    st.none(),
    st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=12).map(
        lambda p: (tuple("ABCDEFGHIJKL"[: len(p)]), np.array(p) / max(sum(p), 1e-9))
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(cell, min_size=1, max_size=12), st.booleans())
def test_the_numpy_beam_keeps_the_texts_of_the_ruled_beam_without_rules(
    cells: list, spaced: bool
) -> None:
    assert _free_beam(cells, spaced) == _ruled_beam(cells, "", spaced)
