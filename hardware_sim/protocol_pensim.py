"""pyserial URL handler ``pensim://``: an in-process simulated pen, for tests and demos.

Register the package once, then open a pen by URL::

    serial.protocol_handler_packages.append("hardware_sim")
    port = serial.serial_for_url("pensim://SIM-42?speed=0&drift_ppm=50", timeout=1)

(:func:`hardware_sim.url_handler.register` does the first line.) The path is
the pen's serial. Query parameters (all optional):

============== ======================================================= =========
parameter      meaning                                                 default
============== ======================================================= =========
speed          simulated seconds per real second; 0 = as fast as       0
               possible (waits between ink messages are skipped)
drift_ppm      pen clock drift in parts per million                    0
offset_ms      pen clock minus true time at start                      0
battery        battery at start, in %                                  100
memory         offline memory in bytes                                 4194304
chunk          batch bytes per BatchChunk                              1024
ack_timeout_ms ms without Ack before a chunk is sent again             500
auto_batches   1: send stored batches right after the handshake        0
dots_per_frame dots per live Dots frame                                8
model          model string in the hello                               Plume-SIM-1
firmware       firmware string in the hello                            0.2.0
============== ======================================================= =========

Opening the port connects the pen (it says hello at once); closing it
disconnects (the pen stores what is written). The pen lives as long as the
port object: ``port.pen`` is the :class:`~hardware_sim.device.SimulatedPen`,
``port.write_ink(ink)`` makes the user write. Reads advance simulated time.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.pacing import SimClock
from pen.ink import Ink

_INT = {"memory": "memory_total", "chunk": "chunk_size", "ack_timeout_ms": "ack_timeout_ms"}
_INT |= {"offset_ms": "clock_offset_ms", "dots_per_frame": "dots_per_frame"}
_FLOAT = {"drift_ppm": "drift_ppm", "battery": "battery_pct"}
_STR = {"model": "model", "firmware": "firmware"}
_MAX_WAIT_S = 0.01


def parse_url(url: str) -> tuple[PenConfig, float]:
    """The pen configuration and speed a ``pensim://`` URL names."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "pensim":
        raise SerialException(f"expected a pensim://SERIAL?... URL, got {url!r}")
    serial = (parts.netloc + parts.path).strip("/") or PenConfig().serial
    fields: dict[str, Any] = {"serial": serial}
    speed = 0.0
    for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        value = values[-1]
        try:
            if key == "speed":
                speed = float(value)
            elif key == "auto_batches":
                fields["auto_send_batches"] = value not in ("", "0", "no", "false")
            elif key in _INT:
                fields[_INT[key]] = int(value)
            elif key in _FLOAT:
                fields[_FLOAT[key]] = float(value)
            elif key in _STR:
                fields[_STR[key]] = value
            else:
                raise SerialException(f"pensim://: unknown parameter {key!r} in {url!r}")
        except ValueError:
            raise SerialException(f"pensim://: {key}={value!r} is not a number") from None
    if speed < 0:
        raise SerialException(f"pensim://: speed must be >= 0, got {speed}")
    return PenConfig(**fields), speed


class Serial(SerialBase):  # type: ignore[misc]  # pyserial has no type hints
    """A :class:`SimulatedPen` behind pyserial's API."""

    is_open: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pen: SimulatedPen | None = None
        self.clock = SimClock(0.0)
        self._rx = bytearray()
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        if self.pen is None:
            config, speed = parse_url(self.portstr)
            self.clock = SimClock(speed)
            self.pen = SimulatedPen(config, self.clock.now_ms())
            self.pen.timer_scale = speed if speed > 0 else 1.0  # timeouts wait for a real host
        self._rx.clear()
        self.is_open = True
        self.pen.connect(self.clock.now_ms())

    def close(self) -> None:
        pen = self.pen
        if self.is_open and pen is not None:
            pen.disconnect(self.clock.now_ms())
        self.is_open = False  # like pyserial's own ports: the object can be opened again

    def _reconfigure_port(self, *args: Any) -> None:
        """Nothing to configure: the line is in-process."""

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _pen(self) -> SimulatedPen:
        if not self.is_open or self.pen is None:
            raise PortNotOpenError()
        return self.pen

    def _pump(self) -> int:
        pen = self._pen()
        now = self.clock.catch_up(pen)
        self._rx += pen.poll(now)
        return now

    def write_ink(self, ink: Ink, *, retime: bool = True) -> None:
        """The user writes ``ink`` (see :meth:`SimulatedPen.write`).

        At speed 0 with the port closed nothing else moves time on, so the
        ink is written into offline memory at once.
        """
        pen = self.pen
        if pen is None:
            raise PortNotOpenError()
        pen.write(ink, self.clock.now_ms(), retime=retime)
        while not self.is_open and self.clock.speed == 0 and pen.pending_messages:
            pen.poll(self.clock.catch_up(pen))

    @property
    def in_waiting(self) -> int:
        self._pump()
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        timeout = Timeout(self._timeout)
        while True:
            now = self._pump()
            if len(self._rx) >= size or timeout.expired():
                break
            due = self._pen().ink_due_in_ms(now)
            wait = _MAX_WAIT_S if due is None else self.clock.real_seconds(due)
            left = timeout.time_left()
            time.sleep(max(0.0, min(wait, _MAX_WAIT_S, left if left is not None else wait)))
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def write(self, data: bytes) -> int:
        pen = self._pen()
        pen.feed_host(bytes(data), self.clock.now_ms())
        return len(data)

    def flush(self) -> None:
        self._pen()

    def reset_input_buffer(self) -> None:
        self._pen()
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        self._pen()
