"""Record a pen session (raw bytes with arrival times) and replay it at 1x, Nx or flat out.

The recording format, ``PLUMEREC`` version 1 (docs/simulator.md, "Record and
replay"), is JSON lines in UTF-8: a header object, then one object per chunk
of bytes as it arrived::

    {"format": "plumerec", "version": 1, "source": "/tmp/plume-pen-SIM-1", "started_at": "..."}
    {"t": 0.0513, "dir": "pen", "data": "wAEAAC8A..."}
    {"t": 0.0521, "dir": "host", "data": "wIEA..."}

``t`` is seconds since the recording started (monotonic clock), ``dir`` is
``pen`` (pen to host) or ``host`` (what the recorder answered), ``data`` is
base64. An unknown format or version is refused with :class:`RecordingError`.
:meth:`Recording.save` writes the decoded ink beside it as InkML
(``session.inkml`` for ``session.plumerec``).

Replay (:func:`replay`) sends the pen's chunks to any ``write`` callable,
each at ``(t - t_first) / speed`` seconds after the start (``speed=0``: no
waits), so the bytes are identical whatever the speed and the arrival times
scale by ``1/speed``. :class:`ReplayPty` serves a recording on a pty under a
stable path, starting when a host opens it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import errno
import json
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from pen.ink import Ink
from pen.inkml import to_inkml
from pen.wire import (
    FrameEncoder,
    Hello,
    HelloAck,
    LiveAck,
    Message,
    Received,
    Resent,
    StreamDecoder,
)
from pen.wire import decode_ink as _decode_ink

FORMAT = "plumerec"
VERSION = 1


class RecordingError(Exception):
    """A recording that cannot be read (code SIM.301); the message says what to do."""

    code = "SIM.301"


@dataclass(frozen=True, slots=True)
class Chunk:
    t_s: float
    """Seconds since the recording started."""
    direction: str
    """``pen`` (pen to host) or ``host`` (host to pen)."""
    data: bytes


@dataclass(frozen=True, slots=True)
class Recording:
    chunks: tuple[Chunk, ...]
    header: dict[str, Any] = field(default_factory=dict)

    def pen_bytes(self) -> bytes:
        return b"".join(c.data for c in self.chunks if c.direction == "pen")

    def decode_ink(self) -> tuple[Ink, list[object]]:
        """The ink in the pen's bytes, with every anomaly met (:func:`pen.wire.decode_ink`)."""
        return _decode_ink(self.pen_bytes())

    def save(self, path: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write the recording and its ink as InkML beside it; return both paths."""
        path = Path(path)
        head = {"format": FORMAT, "version": VERSION, **self.header}
        lines = [json.dumps(head)]
        for c in self.chunks:
            data = base64.b64encode(c.data).decode("ascii")
            lines.append(json.dumps({"t": round(c.t_s, 6), "dir": c.direction, "data": data}))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        ink, anomalies = self.decode_ink()
        meta = {"source": str(self.header.get("source", "")), "anomalies": str(len(anomalies))}
        inkml = path.with_suffix(".inkml")
        inkml.write_text(to_inkml(ink, metadata=meta), encoding="utf-8")
        return path, inkml

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordingError(f"cannot read recording {path}: {exc}") from None
        try:
            head = json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            head = None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise RecordingError(f"{path} is not a pen recording (no plumerec header)")
        if head.get("version") != VERSION:
            raise RecordingError(
                f"{path} is plumerec version {head.get('version')!r}; this Plume reads "
                f"version {VERSION}: replay it with the Plume that recorded it"
            )
        chunks = []
        for n, line in enumerate(lines[1:], start=2):
            try:
                item = json.loads(line)
                chunk = Chunk(float(item["t"]), str(item["dir"]), base64.b64decode(item["data"]))
            except (ValueError, KeyError, TypeError):
                raise RecordingError(f"{path}:{n}: not a recorded chunk") from None
            if chunk.direction not in ("pen", "host"):
                raise RecordingError(f"{path}:{n}: direction {chunk.direction!r} is not pen/host")
            chunks.append(chunk)
        header = {k: v for k, v in head.items() if k not in ("format", "version")}
        return cls(tuple(chunks), header)


class Recorder:
    """Collects chunks with their arrival times (thread-safe)."""

    def __init__(self, source: str = "", monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._chunks: list[Chunk] = []
        self._lock = threading.Lock()
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.header: dict[str, Any] = {"source": source, "started_at": started}

    def add(self, data: bytes, direction: str = "pen") -> None:
        if data:
            with self._lock:
                self._chunks.append(Chunk(self._monotonic() - self._t0, direction, bytes(data)))

    @property
    def n_bytes(self) -> int:
        with self._lock:
            return sum(len(c.data) for c in self._chunks if c.direction == "pen")

    def recording(self) -> Recording:
        with self._lock:
            return Recording(tuple(self._chunks), dict(self.header))


class Port(Protocol):
    """What :func:`record_port` needs of a pyserial port."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes) -> int | None: ...


def record_port(
    port: Port,
    recorder: Recorder,
    *,
    seconds: float | None = None,
    stop: threading.Event | None = None,
    answer_hello: bool = True,
) -> Recording:
    """Record what ``port`` receives until ``seconds`` pass or ``stop`` is set.

    With ``answer_hello`` the recorder acts as a minimal host: it accepts a
    pen's ``Hello`` with a ``HelloAck`` in the pen's version, and acknowledges
    a v2 pen's live frames as they come (``LiveAck``, once per chunk read), so
    the pen goes on as it would with a station agent (answers are recorded as
    ``host``). The port needs a read timeout.
    """
    stop = stop or threading.Event()
    deadline = None if seconds is None else time.monotonic() + seconds
    decoder, encoder = StreamDecoder(), FrameEncoder()
    session: int | None = None  # the v2 session being acknowledged
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        data = port.read(max(1, port.in_waiting))
        recorder.add(data)
        if not (answer_hello and data):
            continue
        answers: list[Message] = []
        last: int | None = None
        for event in decoder.feed(data):
            if not isinstance(event, Received) or isinstance(event.message, Resent):
                continue
            msg, last = event.message, event.seq
            if isinstance(msg, Hello):
                accept = HelloAck.accepting(msg)
                session = accept.session_ms
                answers.append(accept)
        if session is not None and last is not None:
            answers.append(LiveAck(session, last))
        if answers:
            answer = b"".join(encoder.encode(m) for m in answers)
            port.write(answer)
            recorder.add(answer, "host")
    return recorder.recording()


def replay(
    recording: Recording,
    write: Callable[[bytes], object],
    *,
    speed: float = 1.0,
    stop: threading.Event | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Send the pen's chunks to ``write`` at ``speed`` (0: no waits); return the bytes sent."""
    if speed < 0:
        raise ValueError(f"speed must be >= 0 (0: as fast as possible), got {speed}")
    stop = stop or threading.Event()
    chunks = [c for c in recording.chunks if c.direction == "pen"]
    start, first = monotonic(), chunks[0].t_s if chunks else 0.0
    sent = 0
    for chunk in chunks:
        if speed > 0:
            wait = start + (chunk.t_s - first) / speed - monotonic()
            if wait > 0 and stop.wait(wait):
                break
        if stop.is_set():
            break
        write(chunk.data)
        sent += len(chunk.data)
    return sent


class ReplayPty:
    """A recording served on a pty at ``path``: the replay starts when a host opens it.

    ``connect_delay_s`` after the open (pyserial flushes its input when it
    opens a port) the chunks go out at ``speed``. :attr:`done` is set when
    all were written; :meth:`stop` (or leaving the ``with``) ends it.
    """

    def __init__(
        self,
        recording: Recording,
        path: str | os.PathLike[str],
        *,
        speed: float = 1.0,
        connect_delay_s: float = 0.05,
    ) -> None:
        self.recording, self.path, self.speed = recording, Path(path), speed
        self.connect_delay_s = connect_delay_s
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master, self._tty = -1, ""

    def start(self) -> ReplayPty:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            self._tty = os.ttyname(slave)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(self._tty, tmp)
        os.replace(tmp, self.path)
        self._thread = threading.Thread(target=self._run, name=f"replay-{self.path.name}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with contextlib.suppress(OSError):
            if os.readlink(self.path) == self._tty:
                self.path.unlink()
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    def __enter__(self) -> ReplayPty:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def host_closed(self) -> bool:
        """True when no host has the pty open (after the replay, it has read and left)."""
        if self._master < 0:
            return True
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        return bool(dict(poller.poll(0)).get(self._master, 0) & select.POLLHUP)

    def _run(self) -> None:
        try:
            while self.host_closed():  # wait for a host to open the path
                if self._stop.wait(0.01):
                    return
            if self._stop.wait(self.connect_delay_s):
                return
            replay(self.recording, self._write, speed=self.speed, stop=self._stop)
            if not self._stop.is_set():
                self.done.set()
        except BaseException as exc:  # kept for the caller; the thread must not die silently
            self.error = exc

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # what the host sends is not replayed: drop it
            os.read(self._master, 65536)
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = os.write(self._master, view)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EIO):
                    raise
                self._stop.wait(0.001)  # full, or the host went away: wait for it
                continue
            view = view[n:]
