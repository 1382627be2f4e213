"""Between wire messages and ink: strokes to messages (pen side) and back (host side).

:func:`stroke_messages` turns a :class:`~pen.ink.Stroke` into the messages a
pen sends for it (pen-down, page, dots in frames of up to ``dots_per_frame``,
pen-up). :class:`InkAssembler` does the reverse on the host: fed decoded
messages, it returns finished strokes, converting device units to
millimetres with the units the pen declared in its hello. A stroke cut short
(a disconnect mid-stroke, a lost pen-up, dots missing against the pen-up's
count) is still returned, with a :class:`StrokeIncomplete` event beside it:
ink is never thrown away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pen.errors import WireError
from pen.ink import FloatArray, Ink, Stroke
from pen.page import PageAddress
from pen.wire.messages import (
    DOT_DTYPE,
    MAX_DOTS_PER_FRAME,
    DotArray,
    Dots,
    Hello,
    Message,
    Page,
    PenDown,
    PenUp,
)
from pen.wire.stream import Received, StreamDecoder

#: Messages a pen sends in live mode: dots are flushed at most this many at a time.
DEFAULT_DOTS_PER_FRAME = 8


@dataclass(frozen=True, slots=True)
class DeviceUnits:
    """How to read a pen's numbers, as declared in its hello."""

    unit_nm: int
    fraction_den: int
    force_max: int

    @classmethod
    def of(cls, hello: Hello) -> DeviceUnits:
        return cls(hello.unit_nm, hello.fraction_den, hello.force_max)

    @property
    def unit_mm(self) -> float:
        return self.unit_nm / 1e6


ANOTO_UNITS = DeviceUnits(unit_nm=37_500, fraction_den=1, force_max=255)


def stroke_messages(
    stroke: Stroke,
    stroke_no: int,
    units: DeviceUnits = ANOTO_UNITS,
    dots_per_frame: int = DEFAULT_DOTS_PER_FRAME,
) -> list[Message]:
    """The messages a pen sends for ``stroke`` (time rounded to whole milliseconds)."""
    if not 1 <= dots_per_frame <= MAX_DOTS_PER_FRAME:
        raise WireError(f"dots_per_frame must be 1..{MAX_DOTS_PER_FRAME}, got {dots_per_frame}")
    t = np.rint(stroke.t).astype(np.int64)
    t0 = int(t[0])
    dt = np.diff(t, prepend=t0)
    if dt.max() > 0xFFFF or t[-1] - t0 > 0xFFFFFFFF:
        raise WireError(f"a pause of {int(dt.max())} ms inside a stroke does not fit in a u16")
    scaled = stroke.points[:, :2] / units.unit_mm
    whole = np.floor(scaled)
    frac = np.rint((scaled - whole) * units.fraction_den)
    carry = frac >= units.fraction_den  # rounding up to a whole unit
    whole += carry
    frac[carry] = 0
    if whole.min() < 0 or whole.max() > 0xFFFF:
        raise WireError(
            f"stroke {stroke_no} leaves the device coordinate range 0..65535 units "
            f"({units.unit_mm} mm each)"
        )
    dots = np.zeros(len(stroke), dtype=DOT_DTYPE)
    dots["dt"] = dt
    dots["x"] = whole[:, 0]
    dots["xf"] = frac[:, 0]
    dots["y"] = whole[:, 1]
    dots["yf"] = frac[:, 1]
    dots["force"] = np.rint(stroke.force * units.force_max)
    out: list[Message] = [PenDown(t0, stroke_no)]
    if stroke.page is not None:
        out.append(Page(*stroke.page.parts))
    for start in range(0, len(dots), dots_per_frame):
        frame = dots[start : start + dots_per_frame]
        out.append(Dots.of(frame, start, int(t[start]) - t0))
    out.append(PenUp(int(t[-1]), stroke_no, len(dots)))
    return out


@dataclass(frozen=True, slots=True)
class StrokeIncomplete:
    """A stroke whose dots do not match what the pen announced, or that never ended."""

    code: ClassVar[str] = "WIRE.201"
    pen_serial: str
    stroke_no: int
    expected_dots: int | None
    """The pen-up's count, or None if no pen-up came."""
    received_dots: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrphanMessage:
    """Dots, a page or a pen-up that came with no stroke open (its pen-down was lost)."""

    code: ClassVar[str] = "WIRE.202"
    message: Message


AssemblyEvent = Stroke | StrokeIncomplete | OrphanMessage


class InkAssembler:
    """Host side: decoded messages in, strokes out (in millimetres, pen-clock ms)."""

    def __init__(self, pen_serial: str = "", units: DeviceUnits = ANOTO_UNITS) -> None:
        self.pen_serial = pen_serial
        self.units = units
        self._down: PenDown | None = None
        self._page: PageAddress | None = None
        self._dots: list[Dots] = []
        self._next_index = 0  # index the next Dots frame of this stroke should start at
        self._contiguous = True  # no Dots frame of this stroke lost so far
        self._last_page: Page | None = None
        self._last_address: PageAddress | None = None
        # Whole strokes waiting to be converted together at the end of feed():
        # (position in the output, pen-down time, page, dot records).
        self._pending: list[tuple[int, int, PageAddress | None, bytes]] = []

    @property
    def in_stroke(self) -> bool:
        return self._down is not None

    def feed(self, messages: Iterable[Message]) -> list[AssemblyEvent]:
        out: list[AssemblyEvent | None] = []
        for msg in messages:
            kind = type(msg)
            if kind is Dots:
                if self._down is None:
                    out.append(OrphanMessage(msg))
                else:
                    d: Dots = msg  # type: ignore[assignment]
                    if d.first_index != self._next_index:
                        self._contiguous = False
                    self._next_index = d.first_index + len(d)
                    self._dots.append(d)
            elif kind is PenDown:
                if self._down is not None:
                    self._close(out, None, "a new pen-down came before this stroke's pen-up")
                self._down = msg  # type: ignore[assignment]
            elif kind is Page:
                if self._down is None:
                    out.append(OrphanMessage(msg))
                else:
                    p: Page = msg  # type: ignore[assignment]
                    if p != self._last_page:  # pens repeat the page for every stroke
                        self._last_page = p
                        self._last_address = PageAddress(p.segment, p.shelf, p.book, p.page)
                    self._page = self._last_address
            elif kind is PenUp:
                up: PenUp = msg  # type: ignore[assignment]
                if self._down is None or self._down.stroke_no != up.stroke_no:
                    if self._down is not None:
                        self._close(out, None, "pen-up for another stroke")
                    out.append(OrphanMessage(msg))
                else:
                    self._close(out, up, "")
            elif kind is Hello:
                hello: Hello = msg  # type: ignore[assignment]
                if self._down is not None:
                    self._close(out, None, "the pen reconnected mid-stroke")
                self._flush(out)  # strokes so far are in the old pen's units
                self.pen_serial = hello.serial
                self.units = DeviceUnits.of(hello)
        self._flush(out)
        return out  # type: ignore[return-value]  # _flush filled every placeholder

    def finish(self) -> list[AssemblyEvent]:
        """End of the session: an open stroke is returned as incomplete."""
        if self._down is None:
            return []
        out: list[AssemblyEvent | None] = []
        self._close(out, None, "the session ended mid-stroke")
        self._flush(out)
        return out  # type: ignore[return-value]

    def _close(self, out: list[AssemblyEvent | None], up: PenUp | None, reason: str) -> None:
        down = self._down
        assert down is not None
        frames = self._dots
        records = b"".join([f.records for f in frames])
        n = len(records) // DOT_DTYPE.itemsize
        page = self._page
        contiguous = self._contiguous
        self._down, self._page, self._dots = None, None, []
        self._next_index, self._contiguous = 0, True
        if n and contiguous:
            # The common case: converted with the other strokes of this feed() call.
            self._pending.append((len(out), down.t_ms, page, records))
            out.append(None)
        elif n:
            dots = np.frombuffer(records, dtype=DOT_DTYPE)
            stroke, clamped = self._stroke(down, page, dots, frames)
            out.append(stroke)
            if clamped:
                out.append(
                    StrokeIncomplete(
                        self.pen_serial,
                        down.stroke_no,
                        None if up is None else up.dot_count,
                        n,
                        f"times went backwards at {clamped} dot(s); held at the time before",
                    )
                )
        if up is None:
            out.append(StrokeIncomplete(self.pen_serial, down.stroke_no, None, n, reason))
        elif up.dot_count != n:
            out.append(
                StrokeIncomplete(
                    self.pen_serial,
                    down.stroke_no,
                    up.dot_count,
                    n,
                    f"the pen announced {up.dot_count} dots and {n} arrived",
                )
            )

    def _flush(self, out: list[AssemblyEvent | None]) -> None:
        """Convert every pending stroke in one pass of numpy calls, into its place in ``out``."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        dots = np.frombuffer(b"".join([p[3] for p in pending]), dtype=DOT_DTYPE)
        size = DOT_DTYPE.itemsize
        counts = np.array([len(p[3]) // size for p in pending], dtype=np.int64)
        starts = np.cumsum(counts) - counts
        raw, pts = self._convert(dots)
        dt = dots["dt"].astype(np.int64)
        elapsed = np.cumsum(dt)
        # Each stroke's times restart at its pen-down (its first dot's dt counts from there).
        down_ms = np.array([p[1] for p in pending], dtype=np.int64)
        pts[:, 2] = elapsed + np.repeat(down_ms - elapsed[starts] + dt[starts], counts)
        pts.setflags(write=False)
        raw.setflags(write=False)
        serial, unit = self.pen_serial, self.units.unit_mm
        for (pos, _, page, _), a, n in zip(pending, starts.tolist(), counts.tolist(), strict=True):
            out[pos] = Stroke._trusted(pts[a : a + n], serial, page, raw[a : a + n], unit)

    def _convert(self, dots: DotArray) -> tuple[FloatArray, FloatArray]:
        """Raw device coordinates, and points with x, y in mm and force filled (t left to fill).

        Wire values are bounded integers and force is clamped to 1, so the points
        meet the ink invariants once times are filled in non-decreasing order.
        """
        u = self.units
        raw = np.empty((len(dots), 2), dtype=np.float64)
        raw[:, 0] = dots["x"]
        raw[:, 1] = dots["y"]
        if u.fraction_den != 1:
            raw[:, 0] += dots["xf"] / u.fraction_den
            raw[:, 1] += dots["yf"] / u.fraction_den
        pts = np.empty((len(dots), 4), dtype=np.float64)
        np.multiply(raw, u.unit_mm, out=pts[:, :2])
        np.minimum(dots["force"] * (1.0 / u.force_max), 1.0, out=pts[:, 3])
        return raw, pts

    def _stroke(
        self, down: PenDown, page: PageAddress | None, dots: DotArray, frames: list[Dots]
    ) -> tuple[Stroke, int]:
        """A stroke that lost a frame, and how many dot times had to be clamped.

        Times are re-anchored on each frame's own offset from the pen-down; offsets
        that go back in time (a faulty pen) are clamped to keep time from going back,
        and counted.
        """
        raw, pts = self._convert(dots)
        counts = np.array([len(f) for f in frames], dtype=np.int64)
        offsets = np.array([f.t_offset_ms for f in frames], dtype=np.int64)
        starts = np.cumsum(counts) - counts
        dt = dots["dt"].astype(np.int64)
        dt[starts] = 0  # a frame's first dot sits at the frame's own offset
        elapsed = np.cumsum(dt)
        t = elapsed + np.repeat(offsets - elapsed[starts], counts) + down.t_ms
        monotone = np.maximum.accumulate(t)
        pts[:, 2] = monotone
        clamped = int(np.count_nonzero(monotone != t))
        return Stroke._trusted(pts, self.pen_serial, page, raw, self.units.unit_mm), clamped


def decode_ink(data: bytes) -> tuple[Ink, list[object]]:
    """Decode a whole recorded pen stream to ink, with every anomaly met on the way.

    The anomalies are the stream decoder's (:data:`~pen.wire.stream.WireAnomaly`)
    and the assembler's (:class:`StrokeIncomplete`, :class:`OrphanMessage`), in
    stream order. Other messages (status, batches, host messages) are ignored here.
    """
    decoder = StreamDecoder()
    assembler = InkAssembler()
    strokes: list[Stroke] = []
    anomalies: list[object] = []

    def keep(items: list[AssemblyEvent]) -> None:
        for item in items:
            if isinstance(item, Stroke):
                strokes.append(item)
            else:
                anomalies.append(item)

    for event in [*decoder.feed(data), *decoder.flush()]:
        if isinstance(event, Received):
            keep(assembler.feed((event.message,)))
        else:
            anomalies.append(event)
    keep(assembler.finish())
    return Ink(tuple(strokes)), anomalies
