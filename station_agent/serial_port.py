"""The pen's serial port as the link sees it: opening by URL without losing unread input.

:func:`serial_opener` opens a device path (keeping what the pen sent while nobody was
reading) or any pyserial URL (``pensim://``, ``socket://``, ``spy://``);
:class:`Backoff` spaces the attempts to open it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial


class SerialLike(Protocol):
    in_waiting: int

    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes) -> int | None: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class Backoff:
    """Exponential backoff between reconnection attempts."""

    initial_s: float = 0.05
    factor: float = 2.0
    max_s: float = 2.0
    _next: float = 0.0

    def fail(self) -> float:
        delay = self._next or self.initial_s
        self._next = min(delay * self.factor, self.max_s)
        return delay

    def reset(self) -> None:
        self._next = 0.0


class _KeepInput(serial.Serial):  # type: ignore[misc]  # pyserial is untyped
    """A device opened *without* discarding its input buffer (pyserial flushes it).

    What the pen sent while no agent was reading (the agent was killed, or restarting)
    is still pen data: reading it instead of flushing it is what lets a restarted agent
    lose nothing that reached the laptop."""

    _opening = False

    def open(self) -> None:
        self._opening = True
        try:
            super().open()
        finally:
            self._opening = False

    def _reset_input_buffer(self) -> None:
        if not self._opening:
            super()._reset_input_buffer()


def serial_opener(url: str, timeout: float = 0.2) -> Callable[[], SerialLike]:
    """Opens ``url`` with pyserial: a device path (keeping its unread input), or any
    registered URL scheme (``pensim://``, ``socket://``, ``spy://``...)."""

    def open_port() -> SerialLike:
        port: SerialLike
        if "://" in url:
            port = serial.serial_for_url(url, timeout=timeout)
        else:
            port = _KeepInput(url, timeout=timeout)
        return port

    return open_port
