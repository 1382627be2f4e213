"""The laptop's clock, or a rehearsal's: what the agent calls "now".

On election day the agent trusts the laptop's clock (it sets the pen's from
it). A rehearsal that replays a day faster than life (``plume demo``, a
technician's dry run with ``plume sim`` pens at speed N) gives the agent the
same compressed clock as its pens: ``T0_MS,WALL0_S,SPEED`` means "at Unix wall
time WALL0_S the day's clock reads T0_MS, and it runs SPEED times faster".
Pens, agents and the centre then agree on the day's times, so the timeline
rules (ink after closing, late corrections) judge the rehearsal as they would
judge the real day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], int]


def laptop_ms() -> int:
    """The laptop's clock, Unix milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class RehearsalClock:
    """A day's clock reading ``t0_ms`` at wall time ``wall0_s``, running ``speed`` times faster."""

    t0_ms: int
    wall0_s: float
    speed: float

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"a rehearsal clock runs forward: speed {self.speed} is not > 0")

    def __call__(self) -> int:
        return self.t0_ms + int((time.time() - self.wall0_s) * 1000 * self.speed)

    @classmethod
    def parse(cls, text: str) -> RehearsalClock:
        """``T0_MS,WALL0_S,SPEED`` (e.g. ``1318140000000,1795000000.5,400``)."""
        parts = text.split(",")
        if len(parts) != 3:
            raise ValueError(f"a rehearsal clock is T0_MS,WALL0_S,SPEED, not {text!r}")
        try:
            t0, wall0, speed = int(parts[0]), float(parts[1]), float(parts[2])
        except ValueError:
            msg = f"a rehearsal clock is T0_MS,WALL0_S,SPEED (numbers), not {text!r}"
            raise ValueError(msg) from None
        return cls(t0, wall0, speed)
