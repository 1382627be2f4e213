"""What every port that serves a simulated pen shares: the pen behind a lock, one driver.

:class:`~hardware_sim.pty_port.PtyPen` and :class:`~hardware_sim.tcp_port.TcpPen`
run a background thread that moves bytes between a line and a
:class:`~hardware_sim.device.SimulatedPen`. Other threads reach the pen only
through :meth:`PenDriver.call` (under the driver's lock, then waking the
driver) and wait on its state with :meth:`PenDriver.wait_for`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from hardware_sim.device import SimulatedPen
from hardware_sim.pacing import SimClock
from pen.ink import Ink

T = TypeVar("T")


class PenDriver:
    """Base of the ports: subclasses set ``pen``, ``clock`` and ``_cond`` and implement
    :meth:`start`, :meth:`stop` and :meth:`_wake`."""

    pen: SimulatedPen
    clock: SimClock
    _cond: threading.Condition

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _wake(self) -> None:
        """Make the driver thread look at the pen now."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def write(self, ink: Ink, *, retime: bool = True) -> None:
        """The user writes ``ink`` now (see :meth:`SimulatedPen.write`)."""
        self.call(lambda pen, now: pen.write(ink, now, retime=retime))

    def call(self, fn: Callable[[SimulatedPen, int], T]) -> T:
        """Run ``fn(pen, now_ms)`` under the driver's lock (to read or change the pen)."""
        with self._cond:
            result = fn(self.pen, self.clock.now_ms())
            self._cond.notify_all()
        self._wake()
        return result

    def wait_for(self, predicate: Callable[[SimulatedPen], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(pen)`` holds (checked after each step of the driver)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.pen), timeout)
