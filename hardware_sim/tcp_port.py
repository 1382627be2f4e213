"""A simulated pen served over TCP, for pyserial's ``socket://`` URLs (a pen on another machine).

:class:`TcpPen` listens on a TCP port (default ``127.0.0.1``, a free port)
and runs one background thread that shuttles bytes between the connected
client and a :class:`~hardware_sim.device.SimulatedPen`, exactly as
:class:`hardware_sim.pty_port.PtyPen` does on a pty: a client connecting is
a host opening the line (the pen says hello after ``connect_delay_s``), the
client closing it is a disconnect (the pen stores what is written). One
client at a time; a second one waits in the listen queue until the first
leaves. Open it from any program with
``serial.serial_for_url(port.url)`` (``socket://127.0.0.1:PORT``).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from typing import TypeVar

from hardware_sim._driver import PenDriver
from hardware_sim.device import PenConfig, SimulatedPen
from hardware_sim.pacing import SimClock

T = TypeVar("T")

_TICK_S = 0.005


class TcpPen(PenDriver):
    """Serves one :class:`SimulatedPen` on TCP; start/stop or ``with TcpPen(...) as port``."""

    def __init__(
        self,
        pen: SimulatedPen | PenConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        connect_delay_s: float = 0.05,
    ) -> None:
        self.clock = SimClock(speed)
        if not isinstance(pen, SimulatedPen):
            pen = SimulatedPen(pen, self.clock.now_ms())
        pen.timer_scale = speed if speed > 0 else 1.0  # timeouts wait for a real host
        self.pen = pen
        self.host, self.port = host, port
        self.connect_delay_s = connect_delay_s
        self.error: BaseException | None = None
        """What stopped the thread, if anything but :meth:`stop` did."""
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._connections = 0

    @property
    def url(self) -> str:
        """The pyserial URL of this pen."""
        return f"socket://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return self._connections

    def start(self) -> TcpPen:
        if self._thread is not None:
            raise RuntimeError("this TcpPen is already started")
        server = socket.create_server((self.host, self.port))
        server.setblocking(False)
        self._server = server
        self.port = server.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=f"tcp-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            thread.join(timeout=5)
        for s in (self._server, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._server = None

    # --- the driver thread ---------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        client: socket.socket | None = None
        try:
            client = self._loop()
        except BaseException as exc:  # kept for the caller
            self.error = exc
        finally:
            if client is not None:
                client.close()
            with self._cond:
                if self.pen.connected:
                    self.pen.disconnect(self.clock.now_ms())
                self._cond.notify_all()

    def _loop(self) -> socket.socket | None:
        assert self._server is not None
        sel = selectors.DefaultSelector()
        sel.register(self._server, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        client: socket.socket | None = None
        opened_at = 0.0
        outbox = bytearray()
        try:
            while not self._stop.is_set():
                timeout = _TICK_S if outbox or (client and not self.pen.connected) else 0.05
                with self._cond:
                    due = self.pen.ink_due_in_ms(self.clock.now_ms())
                if due is not None:
                    timeout = min(timeout, self.clock.real_seconds(due))
                ready = {key.fileobj for key, _ in sel.select(max(timeout, 0.0))}
                if self._wake_r in ready:
                    self._wake_r.recv(4096)
                if self._server in ready and client is None:
                    with contextlib.suppress(BlockingIOError):
                        client, _ = self._server.accept()
                        client.setblocking(False)
                        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sel.register(client, selectors.EVENT_READ)
                        opened_at = time.monotonic()
                data, closed = b"", False
                if client is not None and client in ready:
                    try:
                        data = client.recv(65536)
                        closed = not data
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        closed = True
                with self._cond:
                    now = self.clock.catch_up(self.pen)
                    if closed and client is not None:
                        sel.unregister(client)
                        client.close()
                        client = None
                        self.pen.disconnect(now)
                        outbox.clear()
                    elif (
                        client is not None
                        and not self.pen.connected
                        and time.monotonic() - opened_at >= self.connect_delay_s
                    ):
                        self.pen.connect(now)
                        self._connections += 1
                    if data and self.pen.connected:
                        self.pen.feed_host(data, now)
                    outbox += self.pen.poll(now)
                    self._cond.notify_all()
                if outbox and client is not None:
                    try:
                        del outbox[: client.send(outbox)]
                    except BlockingIOError:
                        pass
                    except OSError:
                        outbox.clear()  # the peer went away; the next read says so
            return client
        finally:
            sel.close()
