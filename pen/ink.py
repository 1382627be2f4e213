"""The ink model: points, strokes and ink, numpy-backed and immutable.

A point is ``(x, y, t, force)``: x and y in millimetres on the page (origin at
the top-left corner, y pointing down), t in milliseconds since the Unix epoch
on the pen's clock, force in ``0..1``. A :class:`Stroke` is the points between
one pen-down and the next pen-up, with the serial of the pen that wrote it and
the address of the page it was written on. :class:`Ink` is an ordered
sequence of strokes.

Arrays are stored read-only; slicing a stroke returns views, not copies, so
cutting ink into fields is cheap. Raw device coordinates are kept alongside
where the pen gave them (Anoto: 1 unit = 0.0375 mm).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import numpy.typing as npt

from pen.errors import InkError
from pen.page import PageAddress

FloatArray = npt.NDArray[np.float64]

#: Column order of :attr:`Stroke.points`.
X, Y, T, FORCE = 0, 1, 2, 3

#: Size of one Anoto coordinate unit in millimetres.
ANOTO_UNIT_MM = 0.0375


def _frozen(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False, slots=True)
class Stroke:
    """The points between one pen-down and the following pen-up."""

    points: FloatArray
    """(N, 4) float64: x_mm, y_mm, t_ms, force; N >= 1, t non-decreasing."""
    pen_serial: str
    page: PageAddress | None = None
    raw: FloatArray | None = None
    """(N, 2) float64 device coordinates (with fractions), when the pen gave them."""
    unit_mm: float | None = None
    """Millimetres per raw device unit, when ``raw`` is set."""

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 4:
            raise InkError(
                f"stroke points must be an (N, 4) array of x, y, t, force; got shape {pts.shape}"
            )
        if pts.shape[0] == 0:
            raise InkError("a stroke has at least one point")
        if not np.isfinite(pts).all():
            bad = int(np.argwhere(~np.isfinite(pts))[0][0])
            raise InkError(f"stroke point {bad} has a non-finite coordinate: {pts[bad].tolist()}")
        force = pts[:, FORCE]
        if force.min() < 0.0 or force.max() > 1.0:
            bad = int(np.argmax((force < 0.0) | (force > 1.0)))
            raise InkError(f"stroke point {bad} has force {force[bad]}; force must be in 0..1")
        if pts.shape[0] > 1:
            dt = np.diff(pts[:, T])
            if dt.min() < 0:
                bad = int(np.argmax(dt < 0)) + 1
                raise InkError(
                    f"stroke point {bad} goes back in time ({pts[bad - 1, T]} -> {pts[bad, T]} ms)"
                )
        if pts is self.points and pts.flags.writeable:
            pts = pts.copy()
        object.__setattr__(self, "points", _frozen(pts) if pts.flags.writeable else pts)
        if self.raw is not None:
            raw = np.asarray(self.raw, dtype=np.float64)
            if raw.shape != (pts.shape[0], 2):
                raise InkError(
                    f"raw device coordinates must have shape ({pts.shape[0]}, 2); got {raw.shape}"
                )
            if raw is self.raw and raw.flags.writeable:
                raw = raw.copy()
            object.__setattr__(self, "raw", _frozen(raw) if raw.flags.writeable else raw)
        if not isinstance(self.pen_serial, str):
            raise InkError(f"pen serial must be text, got {self.pen_serial!r}")

    @classmethod
    def _trusted(
        cls,
        points: FloatArray,
        pen_serial: str,
        page: PageAddress | None,
        raw: FloatArray | None,
        unit_mm: float | None,
    ) -> Stroke:
        """Build without checks, for decoders whose output meets the invariants by
        construction (finite, force in 0..1, time non-decreasing, (N, 4) float64)."""
        stroke = object.__new__(cls)
        points.setflags(write=False)
        if raw is not None:
            raw.setflags(write=False)
        for name, value in (
            ("points", points),
            ("pen_serial", pen_serial),
            ("page", page),
            ("raw", raw),
            ("unit_mm", unit_mm),
        ):
            object.__setattr__(stroke, name, value)
        return stroke

    @classmethod
    def from_arrays(
        cls,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        t: npt.ArrayLike,
        force: npt.ArrayLike | None = None,
        *,
        pen_serial: str = "",
        page: PageAddress | None = None,
        raw: npt.ArrayLike | None = None,
        unit_mm: float | None = None,
    ) -> Stroke:
        """Build a stroke from columns; force defaults to 1 (a pen that reports none)."""
        xs = np.asarray(x, dtype=np.float64)
        if force is None:
            force = np.ones_like(xs)
        try:
            pts = np.column_stack([xs, y, t, force]).astype(np.float64)
        except ValueError as exc:
            raise InkError(f"stroke columns differ in length: {exc}") from None
        raw_arr = None if raw is None else np.asarray(raw, dtype=np.float64)
        return cls(pts, pen_serial, page, raw_arr, unit_mm)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __getitem__(self, index: slice) -> Stroke:
        """A sub-stroke (a view on the same memory)."""
        if not isinstance(index, slice):
            raise TypeError("index a stroke with a slice; use stroke.points[i] for one point")
        pts = self.points[index]
        if pts.shape[0] == 0:
            raise InkError(f"slice {index} of a {len(self)}-point stroke is empty")
        raw = None if self.raw is None else self.raw[index]
        return Stroke(pts, self.pen_serial, self.page, raw, self.unit_mm)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stroke):
            return NotImplemented
        return (
            self.pen_serial == other.pen_serial
            and self.page == other.page
            and self.unit_mm == other.unit_mm
            and np.array_equal(self.points, other.points)
            and (
                (self.raw is None and other.raw is None)
                or (
                    self.raw is not None
                    and other.raw is not None
                    and np.array_equal(self.raw, other.raw)
                )
            )
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def x(self) -> FloatArray:
        return self.points[:, X]

    @property
    def y(self) -> FloatArray:
        return self.points[:, Y]

    @property
    def t(self) -> FloatArray:
        return self.points[:, T]

    @property
    def force(self) -> FloatArray:
        return self.points[:, FORCE]

    @property
    def start_ms(self) -> float:
        return float(self.points[0, T])

    @property
    def end_ms(self) -> float:
        return float(self.points[-1, T])

    def xyt(self) -> FloatArray:
        """(N, 3) x_mm, y_mm, t_ms: the shape that ``ocr.read`` takes."""
        return self.points[:, :3]

    def bbox(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) in millimetres."""
        xy = self.points[:, :2]
        lo = xy.min(axis=0)
        hi = xy.max(axis=0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    def length_mm(self) -> float:
        """Length of the pen's path on the paper."""
        if len(self) < 2:
            return 0.0
        return float(np.hypot(*np.diff(self.points[:, :2], axis=0).T).sum())


@dataclass(frozen=True, eq=True, slots=True)
class Ink(Sequence[Stroke]):
    """An ordered, immutable sequence of strokes."""

    strokes: tuple[Stroke, ...] = field(default=())

    def __post_init__(self) -> None:
        strokes = tuple(self.strokes)
        for i, s in enumerate(strokes):
            if not isinstance(s, Stroke):
                raise InkError(f"ink item {i} is a {type(s).__name__}, not a Stroke")
        object.__setattr__(self, "strokes", strokes)

    @classmethod
    def of(cls, strokes: Iterable[Stroke]) -> Ink:
        return cls(tuple(strokes))

    def __len__(self) -> int:
        return len(self.strokes)

    def __iter__(self) -> Iterator[Stroke]:
        return iter(self.strokes)

    @overload
    def __getitem__(self, index: int) -> Stroke: ...

    @overload
    def __getitem__(self, index: slice) -> Ink: ...

    def __getitem__(self, index: int | slice) -> Stroke | Ink:
        if isinstance(index, slice):
            return Ink(self.strokes[index])
        return self.strokes[index]

    def __add__(self, other: Ink) -> Ink:
        return Ink(self.strokes + other.strokes)

    @property
    def n_points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def on_page(self, page: PageAddress) -> Ink:
        return Ink(tuple(s for s in self.strokes if s.page == page))

    def pages(self) -> list[PageAddress]:
        """The distinct pages written on, in order of first appearance."""
        seen: dict[PageAddress, None] = {}
        for s in self.strokes:
            if s.page is not None:
                seen.setdefault(s.page, None)
        return list(seen)

    def between(self, start_ms: float, end_ms: float) -> Ink:
        """Strokes that began in ``[start_ms, end_ms)``."""
        return Ink(tuple(s for s in self.strokes if start_ms <= s.start_ms < end_ms))

    def by_time(self) -> Ink:
        """The same strokes ordered by start time (stable for equal times)."""
        return Ink(tuple(sorted(self.strokes, key=lambda s: s.start_ms)))

    def bbox(self) -> tuple[float, float, float, float]:
        if not self.strokes:
            raise InkError("empty ink has no bounding box")
        boxes = np.array([s.bbox() for s in self.strokes])
        return (
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        )

    def xyt(self) -> list[FloatArray]:
        """The strokes as (N, 3) arrays, the input of ``ocr.read``."""
        return [s.xyt() for s in self.strokes]
