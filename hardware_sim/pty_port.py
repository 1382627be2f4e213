"""A simulated pen on a real pseudo-terminal, under a stable path any program can open.

:class:`PtyPen` opens a pty pair, points a symlink (default
``/tmp/plume-pen-<SERIAL>``) at its slave side and runs a background
thread that shuttles bytes between the pty master and a
:class:`~hardware_sim.device.SimulatedPen`. A host opening the path (with
plain ``serial.Serial(path)``) is a connection: after ``connect_delay_s``
(USB enumeration; pyserial flushes its input when it opens a port) the pen
says hello. Closing the path is a disconnect: the pen goes offline and
stores what is written. Use it as a context manager; :meth:`PtyPen.stop`
joins the thread, closes the pty and removes the symlink.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import TypeVar

from hardware_sim._driver import PenDriver
from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.pacing import SimClock

T = TypeVar("T")

_TICK_S = 0.005  # longest wait between looks at the clock


def default_path(serial: str) -> Path:
    return Path(f"/tmp/plume-pen-{serial}")


class PtyPen(PenDriver):
    """Serves one :class:`SimulatedPen` on a pty; start/stop or ``with PtyPen(...) as port``."""

    def __init__(
        self,
        pen: SimulatedPen | PenConfig | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        speed: float = 1.0,
        connect_delay_s: float = 0.05,
        start_ms: int | None = None,
    ) -> None:
        """``start_ms``: the true time when the port starts (default: now); ``speed``: how
        many times faster than life it runs."""
        self.clock = SimClock(speed, start_ms)
        if not isinstance(pen, SimulatedPen):
            pen = SimulatedPen(pen, self.clock.now_ms())
        pen.timer_scale = speed if speed > 0 else 1.0  # timeouts wait for a real host
        self.pen = pen
        self.path = Path(path) if path is not None else default_path(pen.config.serial)
        self.connect_delay_s = connect_delay_s
        self.error: BaseException | None = None
        """What stopped the thread, if anything but :meth:`stop` did."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._tty = ""
        self._wake_r, self._wake_w = -1, -1
        self._connections = 0

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> PtyPen:
        if self._thread is not None:
            raise RuntimeError("this PtyPen is already started")
        self._stop.clear()  # a stopped port can be started again (a re-plugged pen)
        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # no echo, no CR/LF translation, whoever opens it
            self._tty = os.ttyname(slave)
        finally:
            os.close(slave)  # with no slave open, poll() reports POLLHUP: "disconnected"
        os.set_blocking(master, False)
        self._master = master
        self._wake_r, self._wake_w = os.pipe()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(self._tty, tmp)
        os.replace(tmp, self.path)  # atomic, replaces a stale link from a crashed run
        self._thread = threading.Thread(target=self._run, name=f"pty-{self.path.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            os.write(self._wake_w, b"x")
            thread.join(timeout=5)
        with contextlib.suppress(OSError):
            if os.readlink(self.path) == self._tty:
                self.path.unlink()
        for fd in (self._master, self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._master = self._wake_r = self._wake_w = -1

    # --- from other threads --------------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many times a host has connected so far."""
        return self._connections

    # --- the driver thread ---------------------------------------------------------------

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # kept for the caller; the thread must not die silently
            self.error = exc
        finally:
            with self._cond:
                if self.pen.connected:
                    self.pen.disconnect(self.clock.now_ms())
                self._cond.notify_all()

    def _loop(self) -> None:
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        outbox = bytearray()
        opened_at: float | None = None  # monotonic time the host opened the slave
        while not self._stop.is_set():
            timeout_ms = int(_TICK_S * 1000) if outbox or opened_at is not None else 50
            with self._lock:
                due = self.pen.ink_due_in_ms(self.clock.now_ms())
            if due is not None:
                timeout_ms = min(timeout_ms, int(self.clock.real_seconds(due) * 1000))
            events = dict(poller.poll(max(timeout_ms, 0)))
            if self._wake_r in events:
                os.read(self._wake_r, 4096)
            hung_up = bool(events.get(self._master, 0) & select.POLLHUP)
            data = b""
            if events.get(self._master, 0) & select.POLLIN:
                data = self._read_master()
            with self._cond:
                now = self.clock.catch_up(self.pen)
                if hung_up and (self.pen.connected or opened_at is not None):
                    self.pen.disconnect(now)
                    outbox.clear()
                    opened_at = None
                elif not hung_up and not self.pen.connected:
                    mono = time.monotonic()
                    if opened_at is None:
                        opened_at = mono
                    elif mono - opened_at >= self.connect_delay_s:
                        self.pen.connect(now)
                        self._connections += 1
                        opened_at = None
                if data and self.pen.connected:
                    self.pen.feed_host(data, now)
                outbox += self.pen.poll(now)  # offline, this stores the ink that fell due
                self._cond.notify_all()
            if outbox and not hung_up:
                outbox = outbox[self._write_master(outbox) :]
            if hung_up and not data:
                self._stop.wait(_TICK_S)  # POLLHUP stays set: look again shortly

    def _read_master(self) -> bytes:
        try:
            return os.read(self._master, 65536)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # the host closed the slave meanwhile
                return b""
            raise

    def _write_master(self, data: bytearray) -> int:
        try:
            return os.write(self._master, data[:4096])
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno == errno.EIO:
                return 0
            raise
