"""Seeded, scriptable fault injection for the simulated pen (docs/simulator.md, "Faults").

A :class:`FaultPlan` is a list of fault specs and a seed. Two kinds of fault:

- **Line faults** damage the byte stream between the pen and the host, a
  whole frame at a time: :class:`CorruptBytes`, :class:`DropFrames`,
  :class:`DuplicateFrames`, :class:`Replug`. :class:`LineFilter` applies them
  to any byte stream (``apply(bytes) -> bytes``, keeping a partial frame
  until its END byte comes).
- **Device faults** happen to the pen at a true time (ms after the pen was
  created): :class:`Disconnect`, :class:`LowBattery`, :class:`ClockReset`,
  :class:`DecodeErrors`, :class:`LostPoints`, :class:`MemoryFull`; and
  :class:`Spikes`, which moves one dot of a written stroke far off it.

:class:`FaultyPen` is a :class:`~hardware_sim.device.SimulatedPen` that
carries a plan: its output goes through the line filter and the device
faults fire as time passes, so it drops into :class:`~hardware_sim.pty_port.PtyPen`
or any driver unchanged. Every fault that fires is logged in
:attr:`FaultyPen.fired` (what, when) so a test can tie an anomaly to it.
The same plan, seed and calls give the same bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hardware_sim.device import PenConfig, SimulatedPen
from pen.ink import Ink, Stroke
from pen.wire import DecodeError, Message, PenDown, PenUp, ShutdownReason
from pen.wire import LostPoints as LostPointsMessage
from pen.wire.framing import ETX, STX

# --- line faults (per frame, in stream order; frame numbers count from 0) ------------------


@dataclass(frozen=True, slots=True)
class CorruptBytes:
    """XOR one byte inside the frame with a random non-zero value (the CRC no longer holds)."""

    probability: float = 0.0
    frames: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DropFrames:
    """The frame never arrives (the next one shows a sequence gap)."""

    probability: float = 0.0
    frames: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DuplicateFrames:
    """The frame arrives twice in a row."""

    probability: float = 0.0
    frames: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Replug:
    """USB re-plug: the first half of the frame, then ``garbage`` stale bytes, then the next."""

    probability: float = 0.0
    frames: tuple[int, ...] = ()
    garbage: int = 16


# --- device faults (at ``at_ms`` true ms after the pen was created) -------------------------


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The link drops (cable pulled): unsent bytes are lost, the pen goes offline."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class LowBattery:
    """The battery falls under the threshold: Status, Shutdown(LOW_BATTERY), the pen is off."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class ClockReset:
    """The pen clock jumps to ``to_ms`` (0: 1 January 1970); ink not yet written follows it."""

    at_ms: int
    to_ms: int = 0


@dataclass(frozen=True, slots=True)
class DecodeErrors:
    """The camera could not decode the dot pattern ``count`` times: a DecodeError message."""

    at_ms: int
    count: int = 1


@dataclass(frozen=True, slots=True)
class LostPoints:
    """The pen dropped ``count`` samples: a LostPoints message."""

    at_ms: int
    count: int = 1


@dataclass(frozen=True, slots=True)
class MemoryFull:
    """The offline memory is full from now on: Status + Shutdown(MEMORY_FULL), the pen is off."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class Spikes:
    """One dot of a written stroke lands ``distance_mm`` off it (strokes counted from 0)."""

    probability: float = 0.0
    strokes: tuple[int, ...] = ()
    distance_mm: float = 25.0


LineFault = CorruptBytes | DropFrames | DuplicateFrames | Replug
TimedFault = Disconnect | LowBattery | ClockReset | DecodeErrors | LostPoints | MemoryFull
Fault = LineFault | TimedFault | Spikes

_KINDS: dict[str, type] = {
    "corrupt": CorruptBytes,
    "drop": DropFrames,
    "duplicate": DuplicateFrames,
    "replug": Replug,
    "disconnect": Disconnect,
    "low_battery": LowBattery,
    "clock_reset": ClockReset,
    "decode_errors": DecodeErrors,
    "lost_points": LostPoints,
    "memory_full": MemoryFull,
    "spikes": Spikes,
}


class FaultSpecError(ValueError):
    """A fault script that cannot be read; the message names the part."""


@dataclass(frozen=True, slots=True)
class FaultPlan:
    faults: tuple[Fault, ...] = ()
    seed: int = 0

    @classmethod
    def parse(cls, script: str, seed: int = 0) -> FaultPlan:
        """A plan from ``"drop:p=0.05; corrupt:frames=3,7; disconnect:at_ms=2500"``.

        Kinds: corrupt, drop, duplicate, replug, spikes (``p``, ``frames`` or
        ``strokes``, ``garbage``, ``distance_mm``) and disconnect, low_battery,
        clock_reset, decode_errors, lost_points, memory_full (``at_ms``,
        ``to_ms``, ``count``).
        """
        faults: list[Fault] = []
        for part in filter(None, (p.strip() for p in script.split(";"))):
            kind, _, args = part.partition(":")
            if kind.strip() not in _KINDS:
                raise FaultSpecError(f"unknown fault {kind!r} in {part!r}; known: {sorted(_KINDS)}")
            fields: dict[str, object] = {}
            for item in filter(None, (a.strip() for a in args.split(" "))):
                key, _, value = item.partition("=")
                key = {"p": "probability"}.get(key, key)
                try:
                    if key in ("frames", "strokes"):
                        fields[key] = tuple(int(v) for v in value.split(",") if v)
                    elif key in ("probability", "distance_mm"):
                        fields[key] = float(value)
                    else:
                        fields[key] = int(value)
                except ValueError:
                    raise FaultSpecError(f"{item!r} in {part!r} is not a number") from None
            try:
                faults.append(_KINDS[kind.strip()](**fields))
            except TypeError as exc:
                raise FaultSpecError(f"{part!r}: {exc}") from None
        return cls(tuple(faults), seed)


@dataclass(frozen=True, slots=True)
class FiredFault:
    """A fault that happened: the spec, and where (frame number, stroke number or true ms)."""

    fault: Fault
    where: int


def _hits(fault: LineFault | Spikes, n: int, rng: np.random.Generator) -> bool:
    chosen = n in (fault.strokes if isinstance(fault, Spikes) else fault.frames)
    return chosen or (fault.probability > 0 and float(rng.random()) < fault.probability)


class LineFilter:
    """Applies the line faults to a byte stream, frame by frame (a frame ends with END)."""

    def __init__(self, faults: tuple[Fault, ...], rng: np.random.Generator) -> None:
        self.faults = tuple(
            f for f in faults if isinstance(f, CorruptBytes | DropFrames | DuplicateFrames | Replug)
        )
        self.rng = rng
        self.frame_no = 0
        self.fired: list[FiredFault] = []
        self._buf = bytearray()

    def apply(self, data: bytes) -> bytes:
        """The bytes as they arrive after the faults; a frame without its END yet is held."""
        if not self.faults:
            return data
        self._buf += data
        out = bytearray()
        while (end := self._buf.find(ETX)) >= 0:
            frame = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            out += self._frame(frame)
        return bytes(out)

    def flush(self) -> bytes:
        """The held bytes of an unfinished frame, undamaged."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    def _frame(self, frame: bytes) -> bytes:
        n, rng = self.frame_no, self.rng
        self.frame_no += 1
        for fault in self.faults:  # every fault draws for every frame: the same seed, same hits
            if not _hits(fault, n, rng):
                continue
            self.fired.append(FiredFault(fault, n))
            if isinstance(fault, DropFrames):
                return b""
            if isinstance(fault, Replug):
                start = max(frame.find(STX), 0)
                cut = start + max(2, (len(frame) - start) // 2)
                junk = rng.integers(0, 0xBF, size=fault.garbage, dtype=np.uint8).tobytes()
                return frame[:cut] + junk  # no END: the decoder reports it truncated
            if isinstance(fault, DuplicateFrames):
                frame = frame + frame
            elif isinstance(fault, CorruptBytes) and len(frame) > 2:
                damaged = bytearray(frame)
                damaged[int(rng.integers(1, len(frame) - 1))] ^= int(rng.integers(1, 256))
                frame = bytes(damaged)
        return frame


class FaultyPen(SimulatedPen):
    """A simulated pen with a :class:`FaultPlan`: line faults on its output, device ones in time."""

    def __init__(
        self, config: PenConfig | None = None, now_ms: int = 0, plan: FaultPlan | None = None
    ) -> None:
        super().__init__(config, now_ms)
        self.plan = plan or FaultPlan()
        rng = np.random.default_rng(self.plan.seed)
        self.line = LineFilter(self.plan.faults, rng)
        self._rng = rng
        self._created = now_ms
        timed = [f for f in self.plan.faults if hasattr(f, "at_ms")]
        self._timed: list[TimedFault] = sorted(timed, key=lambda f: f.at_ms)  # type: ignore[arg-type]
        self._spikes = [f for f in self.plan.faults if isinstance(f, Spikes)]
        self._strokes_seen = 0
        self._device_fired: list[FiredFault] = []

    @property
    def fired(self) -> list[FiredFault]:
        """Every fault that happened so far (line faults by frame, device faults by true ms)."""
        return [*self._device_fired, *self.line.fired]

    def poll(self, now_ms: int) -> bytes:
        return self.line.apply(super().poll(now_ms))

    def write(self, ink: Ink, now_ms: int, *, retime: bool = False) -> None:
        if self._spikes:
            ink = Ink(tuple(self._maybe_spike(s) for s in ink))
        super().write(ink, now_ms, retime=retime)

    def _maybe_spike(self, stroke: Stroke) -> Stroke:
        n = self._strokes_seen
        self._strokes_seen += 1
        for fault in self._spikes:
            if len(stroke) >= 3 and _hits(fault, n, self._rng):
                self._device_fired.append(FiredFault(fault, n))
                pts = stroke.points.copy()
                i = int(self._rng.integers(1, len(stroke) - 1))
                angle = float(self._rng.uniform(0, 2 * np.pi))
                dx, dy = fault.distance_mm * np.cos(angle), fault.distance_mm * np.sin(angle)
                pts[i, 0] += dx if pts[i, 0] + dx >= 0 else -dx  # stay on the page
                pts[i, 1] += dy if pts[i, 1] + dy >= 0 else -dy
                return Stroke(pts, stroke.pen_serial, stroke.page, None, stroke.unit_mm)
        return stroke

    def _advance(self, now_ms: int) -> None:
        """Let time pass up to each due fault, fire it, then on to ``now_ms``."""
        while self._timed and self._created + self._timed[0].at_ms <= now_ms:
            fault = self._timed.pop(0)
            at = max(self._created + fault.at_ms, self._last_ms)
            super()._advance(at)
            self._fire(fault, at)
        super()._advance(now_ms)

    def _fire(self, fault: TimedFault, at: int) -> None:
        self._device_fired.append(FiredFault(fault, at))
        if isinstance(fault, Disconnect):
            SimulatedPen.disconnect(self)  # without advancing: we are inside _advance
        elif not self.is_on:
            return
        elif isinstance(fault, LowBattery):
            self._battery = min(self._battery, self.config.low_battery_pct - 0.5)
            self._shutdown(ShutdownReason.LOW_BATTERY)
        elif isinstance(fault, MemoryFull):
            self.config = dataclasses.replace(self.config, memory_total=self.memory_used)
            self._shutdown(ShutdownReason.MEMORY_FULL)
        elif isinstance(fault, ClockReset):
            delta = fault.to_ms - self.clock_ms(at)
            self._anchor_true, self._anchor_pen = at, fault.to_ms
            self._queue = type(self._queue)(
                (due + delta, _shift(msg, delta)) for due, msg in self._queue
            )
        else:
            kind = DecodeError if isinstance(fault, DecodeErrors) else LostPointsMessage
            message = kind(self.clock_ms(at), fault.count)
            if self.connected:
                self._send(message)
            else:
                self._store(message, at)


def _shift(msg: Message, delta: int) -> Message:
    """A queued PenDown/PenUp stamped by the reset clock; other messages are relative."""
    if isinstance(msg, PenDown | PenUp):
        return dataclasses.replace(msg, t_ms=msg.t_ms + delta)
    return msg
