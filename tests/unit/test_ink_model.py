"""The ink model's invariants, slicing and page addresses."""

from __future__ import annotations

import numpy as np
import pytest

from pen.errors import InkError, PageAddressError
from pen.ink import Ink, Stroke
from pen.page import PageAddress


def stroke(t0: float = 0.0, n: int = 5, page: PageAddress | None = None) -> Stroke:
    return Stroke.from_arrays(
        np.arange(n, dtype=float),
        np.arange(n) * 2.0,
        t0 + 10 * np.arange(n),
        pen_serial="P1",
        page=page,
    )


def test_points_are_read_only_and_copied_from_the_caller() -> None:
    pts = np.array([[1.0, 2.0, 0.0, 0.5], [2.0, 3.0, 10.0, 0.5]])
    s = Stroke(pts, "P1")
    pts[0, 0] = 99.0
    assert s.points[0, 0] == 1.0
    with pytest.raises(ValueError):
        s.points[0, 0] = 5.0


def test_slicing_a_stroke_is_a_view() -> None:
    s = stroke(n=10)
    sub = s[2:5]
    assert len(sub) == 3 and sub.points.base is not None
    assert np.shares_memory(sub.points, s.points)
    assert sub.start_ms == 20.0 and sub.pen_serial == "P1"


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (np.zeros((3, 3)), "shape"),
        (np.zeros((0, 4)), "at least one point"),
        (np.array([[0.0, 0.0, 0.0, 1.5]]), "force 1.5"),
        (np.array([[0.0, np.nan, 0.0, 0.5]]), "non-finite"),
        (np.array([[0.0, 0.0, 10.0, 0.5], [1.0, 1.0, 5.0, 0.5]]), "goes back in time"),
    ],
)
def test_bad_points_are_rejected_with_a_reason(points: np.ndarray, message: str) -> None:
    with pytest.raises(InkError, match=message):
        Stroke(points, "P1")


def test_ink_slicing_filtering_and_order() -> None:
    a, b = PageAddress(1, 2, 3, 4), PageAddress(1, 2, 3, 5)
    ink = Ink((stroke(100, page=a), stroke(0, page=b), stroke(50, page=a)))
    assert isinstance(ink[1:], Ink) and len(ink[1:]) == 2
    assert len(ink.on_page(a)) == 2
    assert ink.pages() == [a, b]
    assert [s.start_ms for s in ink.by_time()] == [0, 50, 100]
    assert len(ink.between(0, 60)) == 2
    assert ink.n_points == 15
    assert ink.bbox() == (0.0, 0.0, 4.0, 8.0)
    assert [x.shape for x in ink.xyt()] == [(5, 3)] * 3


def test_ink_rejects_non_strokes() -> None:
    with pytest.raises(InkError, match="item 0"):
        Ink(("not a stroke",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.2.3", "has 3 part"),
        ("1.2.3.4.5", "has 5 part"),
        ("1.2.-3.4", "book '-3' is not a decimal"),
        ("1.2. 3.4", "is not a decimal"),
        ("1.70000.3.4", "shelf 70000 is out of range"),
        ("", "has 1 part"),
    ],
)
def test_malformed_page_addresses(text: str, message: str) -> None:
    with pytest.raises(PageAddressError, match=message) as info:
        PageAddress.parse(text)
    assert info.value.code == "PEN.101"


def test_page_address_round_trip_and_order() -> None:
    a = PageAddress.parse(" 70.12.3.41 ")
    assert str(a) == "70.12.3.41" and PageAddress.parse(str(a)) == a
    assert PageAddress(1, 0, 0, 9) < PageAddress(1, 0, 1, 0)
