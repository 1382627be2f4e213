"""Simulated time for the pen drivers: real time, N times faster, or as fast as possible.

:class:`SimClock` maps the machine's monotonic clock to the true time (ms
since the Unix epoch) that :class:`~hardware_sim.device.SimulatedPen` is
given. At ``speed`` N, one real second is N simulated seconds. At speed 0
time runs at 1x but the driver may :meth:`~SimClock.skip` the waits between
ink messages, so ink comes out as fast as the line takes it while timeouts
(ack, connect delay) still run in real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hardware_sim.device import SimulatedPen


class SimClock:
    def __init__(
        self,
        speed: float = 1.0,
        start_ms: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (0: as fast as possible), got {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._start = int(time.time() * 1000) if start_ms is None else start_ms
        self._skipped = 0

    def now_ms(self) -> int:
        rate = self.speed if self.speed > 0 else 1.0
        return self._start + int((self._monotonic() - self._t0) * 1000 * rate) + self._skipped

    def real_seconds(self, sim_ms: int) -> float:
        """Real time to wait for ``sim_ms`` of ink time (none at speed 0: it is skipped)."""
        if self.speed == 0:
            return 0.0
        return max(0.0, sim_ms / 1000 / self.speed)

    def catch_up(self, pen: SimulatedPen) -> int:
        """The time now, after skipping to the next due ink at speed 0."""
        now = self.now_ms()
        if self.speed == 0:
            due = pen.ink_due_in_ms(now)
            if due:
                self._skipped += due
                now += due
        return now
