"""Simulated handwriting composed from real UNIPEN glyphs.

A :class:`Writer` is one simulated person with one real writer's hand (from
:mod:`hardware_sim.glyphs`) and seeded habits: size, slant, pen speed,
pressure, pauses. Each character is one of the real writer's samples, placed
in its box with a little jitter in size, slant, rotation, baseline and
position, and shrunk when it would not fit (people adapt to boxes). The pen
then travels along the real trajectory with a human velocity profile (slow at
the ends of a stroke and in tight curves, the two-thirds power law in spirit)
and is sampled at the pen's rate; force rises from near zero at pen-down and
falls back at pen-up. Pen-up pauses cover the air travel between strokes and
the hesitation between characters.

The same seed and the same calls give identical ink. UNIPEN gives no timing
for these writers, so speeds and pauses are modelled, not replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware_sim.glyphs import Glyph, GlyphBank
from pen.forms.model import Field, Rect
from pen.ink import Stroke
from pen.page import PageAddress

Poly = npt.NDArray[np.float64]

#: Where a character sits relative to the writing line (see :func:`_placement`).
_DESCENDERS = set("gjpqy")
_SMALL = set("acemnorsuvwxz")
_MIDDLE = set("-+=~*")
_HIGH = set("'\"`^")
_LOW = set("._,")


@dataclass(frozen=True, slots=True)
class Style:
    """One person's habits, drawn once from the writer's seed."""

    size: float
    """Digit height as a share of the box height."""
    slant: float
    """Extra shear (x shift per mm up), on top of the real writer's own slant."""
    speed_mm_s: float
    """Mean pen speed on paper."""
    pressure: float
    """Peak force, 0..1."""
    char_pause_ms: float
    """Median pause between characters (after the air travel)."""
    stroke_pause_ms: float
    """Median pause between the strokes of a character."""

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Style:
        return cls(
            size=float(rng.uniform(0.55, 0.7)),
            slant=float(rng.normal(0.0, 0.06)),
            speed_mm_s=float(rng.uniform(22.0, 45.0)),
            pressure=float(rng.uniform(0.5, 0.85)),
            char_pause_ms=float(rng.uniform(150.0, 400.0)),
            stroke_pause_ms=float(rng.uniform(60.0, 160.0)),
        )


class Writer:
    """One simulated person writing with one real writer's glyphs.

    ``writer_id`` is a bank writer (:meth:`GlyphBank.writers`); None picks one
    with the seed. Characters the writer never wrote are borrowed from another
    writer of the same contributor and recorded in :attr:`borrowed`; if none
    wrote it, :class:`hardware_sim.glyphs.MissingGlyph` is raised.
    """

    def __init__(
        self,
        writer_id: str | None = None,
        *,
        seed: int = 0,
        bank: GlyphBank | None = None,
        rate_hz: float = 75.0,
    ) -> None:
        self.bank = bank if bank is not None else GlyphBank.load()
        self.rng = np.random.default_rng(seed)
        if writer_id is None:
            ids = self.bank.writers()
            writer_id = ids[int(self.rng.integers(len(ids)))]
        self.bank.contributor(writer_id)  # raises UnknownWriter
        self.writer_id = writer_id
        self.rate_hz = rate_hz
        self.style = Style.draw(self.rng)
        self.borrowed: dict[str, str] = {}
        """Character -> the writer who lent it, for characters this writer never wrote."""

    def __repr__(self) -> str:
        return f"Writer({self.writer_id!r}, style={self.style})"

    # -- geometry ---------------------------------------------------------------------------

    def _pick(self, char: str) -> Glyph:
        found = self.bank.glyphs(self.writer_id, char)
        if found.borrowed:
            self.borrowed[char] = found.source
        return found.samples[int(self.rng.integers(len(found.samples)))]

    def _place(self, glyph: Glyph, char: str, rect: Rect) -> list[Poly]:
        """The glyph's strokes in page mm, inside ``rect`` with a margin."""
        rng = self.rng
        size = self.style.size * float(np.exp(rng.normal(0.0, 0.05)))
        scale = rect.height * size  # mm per digit height
        slant = self.style.slant + float(rng.normal(0.0, 0.025))
        angle = float(np.radians(rng.normal(0.0, 1.5)))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        strokes = []
        for s in glyph.strokes:
            p = s * scale
            p[:, 0] -= p[:, 1] * slant
            strokes.append(p @ rot.T)
        allp = np.vstack(strokes)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        w, h = hi - lo
        margin = 0.1 * min(rect.width, rect.height)
        room_w, room_h = rect.width - 2 * margin, rect.height - 2 * margin
        shrink = min(1.0, room_w / max(w, 1e-6), room_h / max(h, 1e-6))
        w, h = w * shrink, h * shrink
        # Vertical: a writing line whose baseline sits where a digit of this size is centred.
        digit_h = scale * shrink
        baseline = rect.y + (rect.height + digit_h) / 2 + float(rng.normal(0.0, 0.04 * digit_h))
        top = _placement(char, baseline, digit_h, h)
        top = float(np.clip(top, rect.y + margin, rect.bottom - margin - h))
        spare = room_w - w
        left = rect.x + margin + spare / 2 + float(rng.normal(0.0, 0.12 * spare + 0.05))
        left = float(np.clip(left, rect.x + margin, rect.right - margin - w))
        offset = np.array([left, top])
        return [(p - lo) * shrink + offset for p in strokes]

    # -- motion ---------------------------------------------------------------------------

    def _trace(self, poly: Poly, t0: float) -> Poly:
        """Sample one stroke at the pen's rate: (N, 4) x, y, t, force; t0 at the first point."""
        rng = self.rng
        dt = 1000.0 / self.rate_hz
        poly = poly + rng.normal(0.0, 0.015, poly.shape)
        seg = np.hypot(*np.diff(poly, axis=0).T) if len(poly) > 1 else np.zeros(0)
        dist = np.concatenate([[0.0], np.cumsum(seg)])
        length = float(dist[-1])
        v_mean = self.style.speed_mm_s * float(np.exp(rng.normal(0.0, 0.1)))
        if length < 0.2:  # a dot: the pen touches and lifts
            n = int(rng.integers(3, 6))
            at = np.linspace(0.0, length, n)
            times = np.arange(n) * dt
        else:
            # Local speed: slower in tight curves (radius^(1/3)) and at both ends.
            d = np.diff(poly, axis=0)
            heading = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
            turn = np.abs(np.diff(heading)) if len(heading) > 1 else np.zeros(0)
            step = np.maximum(seg[:-1] + seg[1:], 1e-6) / 2 if len(seg) > 1 else np.zeros(0)
            radius = step / np.maximum(turn, 1e-3)
            v_vertex = np.clip((radius / 2.0) ** (1 / 3), 0.35, 1.5)
            v_pts = np.concatenate([[v_vertex[0] if len(v_vertex) else 1.0], v_vertex, [1.0]])
            v_pts = np.convolve(np.pad(v_pts, 2, mode="edge"), np.ones(5) / 5, mode="valid")
            ramp = min(1.5, 0.3 * length)
            ends = np.minimum(dist, length - dist) / max(ramp, 1e-6)
            v_pts = v_pts * np.clip(0.25 + 0.75 * np.sqrt(np.clip(ends, 0, 1)), 0.25, 1.0)
            v_seg = (v_pts[:-1] + v_pts[1:]) / 2 * v_mean  # mm/s
            t_at = np.concatenate([[0.0], np.cumsum(seg / v_seg * 1000.0)])
            n = max(3, int(np.ceil(t_at[-1] / dt)) + 1)
            times = np.arange(n) * dt
            at = np.interp(np.minimum(times, t_at[-1]), t_at, dist)
        x = np.interp(at, dist, poly[:, 0])
        y = np.interp(at, dist, poly[:, 1])
        total = float(times[-1])
        rise = min(float(rng.uniform(35.0, 70.0)), total / 2.5)
        fall = min(float(rng.uniform(30.0, 60.0)), total / 2.5)
        env = np.minimum(np.clip(times / rise, 0, 1), np.clip((total - times) / fall, 0, 1))
        env = np.sin(env * np.pi / 2) ** 2
        wobble = 1.0 + 0.06 * np.sin(times / 90.0 + rng.uniform(0, 2 * np.pi))
        peak = self.style.pressure * float(np.exp(rng.normal(0.0, 0.06)))
        force = np.clip(0.02 + (peak - 0.02) * env * wobble, 0.0, 1.0)
        return np.column_stack([x, y, np.round(t0 + times), force])

    def _air_ms(self, a: Poly, b: Poly, median_ms: float) -> float:
        """Pen-up time from the end of ``a`` to the start of ``b``: travel plus a pause."""
        travel = float(np.hypot(*(b[0, :2] - a[-1, :2])))
        air = travel / (1.6 * self.style.speed_mm_s) * 1000.0
        return air + median_ms * float(np.exp(self.rng.normal(0.0, 0.35)))

    # -- public ---------------------------------------------------------------------------

    def write_in_box(
        self, char: str, rect: Rect, t0_ms: float, *, pen_serial: str, page: PageAddress | None
    ) -> list[Stroke]:
        """The strokes of ``char`` written inside ``rect``; the first point is at ``t0_ms``."""
        if len(char) != 1:
            raise ValueError(f"write_in_box writes one character, got {char!r}")
        polys = self._place(self._pick(char), char, rect)
        out: list[Stroke] = []
        t = float(t0_ms)
        prev: Poly | None = None
        for poly in polys:
            if prev is not None:
                t = float(prev[-1, 2]) + max(
                    1000.0 / self.rate_hz, self._air_ms(prev, poly, self.style.stroke_pause_ms)
                )
            pts = self._trace(poly, t)
            out.append(Stroke(pts, pen_serial, page))
            prev = pts
        return out

    def write_field(
        self,
        text: str,
        field: Field,
        t0_ms: float,
        *,
        align: str = "right",
        pen_serial: str,
        page: PageAddress | None,
    ) -> list[Stroke]:
        """Write ``text`` one character per comb cell; a space leaves its cell empty.

        ``align="right"`` fills the last cells (counts), ``"left"`` the first (names).
        """
        cells = field.boxes
        if align not in ("right", "left"):
            raise ValueError(f"align is 'right' or 'left', got {align!r}")
        if len(text) > len(cells):
            raise ValueError(
                f"{text!r} has {len(text)} characters; field {field.id!r} has {len(cells)} cells"
            )
        first = len(cells) - len(text) if align == "right" else 0
        strokes: list[Stroke] = []
        t = float(t0_ms)
        for ch, box in zip(text, cells[first:], strict=False):
            if ch == " ":
                continue
            if strokes:
                probe = np.array([[box.rect.x + box.rect.width / 2, box.rect.y]])
                t = strokes[-1].end_ms + self._air_ms(
                    strokes[-1].points, probe, self.style.char_pause_ms
                )
            strokes += self.write_in_box(ch, box.rect, t, pen_serial=pen_serial, page=page)
        return strokes


def _placement(char: str, baseline: float, digit_h: float, h: float) -> float:
    """Top (mm) of a glyph ``h`` mm tall on a line with ``baseline`` and digit height."""
    if char in _DESCENDERS:
        return baseline - 0.62 * h
    if char in _MIDDLE:
        return baseline - 0.45 * digit_h - h / 2
    if char in _HIGH:
        return baseline - digit_h
    if char in _LOW or char in _SMALL:
        return baseline - h
    return baseline - h
