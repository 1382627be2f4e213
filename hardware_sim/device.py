"""The simulated pen: a pure, deterministic state machine speaking docs/pen-protocol.md.

:class:`SimulatedPen` owns what a real pen owns: its clock (offset and drift
in ppm, set by the host's ``SetTime``), its battery (draining with time and
ink), its offline memory (bounded; frames of ink written while no host is
connected, kept as batches until the host commits them) and the protocol
state (hello, status, batch transfer with ack/nak and timeouts).

It does no I/O, starts no thread and reads no clock: every call takes
``now_ms``, the true time in milliseconds (the driver's clock). Bytes from
the host go in through :meth:`SimulatedPen.feed_host`; bytes to send come out
of :meth:`SimulatedPen.poll`. The drivers are :mod:`hardware_sim.pty_port`
(a real pty) and :mod:`hardware_sim.protocol_pensim` (a pyserial URL).
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from pen.ink import Ink, Stroke
from pen.wire import (
    ANOTO_UNITS,
    PROTOCOL_VERSION,
    Ack,
    BatchBegin,
    BatchChunk,
    BatchCommit,
    BatchDeleted,
    BatchEnd,
    DeviceUnits,
    Dots,
    FrameEncoder,
    Hello,
    HelloAck,
    Message,
    Nak,
    PenUp,
    Received,
    RequestBatches,
    RequestStatus,
    SetTime,
    Shutdown,
    ShutdownReason,
    Status,
    StreamDecoder,
    stroke_messages,
)


@dataclass(frozen=True, slots=True)
class PenConfig:
    """Everything fixed about one simulated pen."""

    serial: str = "SIM-0001"
    model: str = "Plume-SIM-1"
    firmware: str = "0.2.0"
    units: DeviceUnits = ANOTO_UNITS
    sample_rate_hz: int = 75
    dots_per_frame: int = 8
    clock_offset_ms: int = 0
    """Pen clock minus true time when the pen is created."""
    drift_ppm: float = 0.0
    """How fast the pen clock runs against true time (+50: 50 µs fast per second)."""
    battery_pct: float = 100.0
    drain_pct_per_hour: float = 1.0
    drain_pct_per_kdot: float = 0.05
    """Battery used per 1,000 dots written."""
    low_battery_pct: float = 3.0
    """Below this the pen sends Status + Shutdown(LOW_BATTERY) and turns off."""
    memory_total: int = 4 * 2**20
    """Bytes of offline memory (stored frames)."""
    chunk_size: int = 1024
    """Batch data bytes per BatchChunk."""
    ack_timeout_ms: int = 500
    max_retries: int = 8
    """Re-sends of one chunk before the pen gives up the transfer (batch kept)."""
    auto_send_batches: bool = False
    """Send stored batches right after the handshake, without waiting for RequestBatches."""


@dataclass(slots=True)
class _Batch:
    batch_id: int
    data: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Transfer:
    """The batch being sent: stop-and-wait, one chunk in flight."""

    batch: _Batch
    n_chunks: int
    index: int = 0
    sent_at: int = 0
    retries: int = 0


class SimulatedPen:
    """One pen. Not thread-safe: a driver serialises the calls."""

    def __init__(self, config: PenConfig | None = None, now_ms: int = 0) -> None:
        self.config = c = config or PenConfig()
        self._anchor_true = now_ms
        self._anchor_pen = now_ms + c.clock_offset_ms
        self._battery = float(c.battery_pct)
        self._last_ms = now_ms
        self.is_on = True
        self.shutdown_reason: ShutdownReason | None = None
        self.connected = False
        self.accepted = False
        self.stroke_no = 0
        self.lost_dots = 0
        """Dots the pen could not record (memory full, or turned off)."""
        self.resent_chunks = 0
        self.host_events: list[object] = []
        """What the host sent that the pen could not use (anomalies, unexpected messages)."""
        self._queue: deque[tuple[int, Message]] = deque()  # (due on pen clock, message)
        self._batches: list[_Batch] = []  # sealed, oldest first
        self._open: _Batch | None = None  # being filled while offline
        self._open_encoder = FrameEncoder()
        self._next_batch_id = 1
        self._out = bytearray()
        self._encoder = FrameEncoder()
        self._decoder = StreamDecoder()
        self._transfer: _Transfer | None = None
        self._to_send: deque[_Batch] = deque()
        self._ended: set[int] = set()  # batches whose BatchEnd went out on this connection

    # --- state ---------------------------------------------------------------------------

    def clock_ms(self, now_ms: int) -> int:
        """The pen's clock at true time ``now_ms``."""
        rate = 1.0 + self.config.drift_ppm * 1e-6
        return self._anchor_pen + round((now_ms - self._anchor_true) * rate)

    @property
    def battery_pct(self) -> float:
        return self._battery

    @property
    def memory_used(self) -> int:
        stored = sum(len(b.data) for b in self._batches)
        return stored + (len(self._open.data) if self._open else 0)

    @property
    def stored_batches(self) -> tuple[int, ...]:
        """Ids of the batches held in memory (sealed ones, then the one being filled)."""
        ids = [b.batch_id for b in self._batches]
        return (*ids, self._open.batch_id) if self._open else tuple(ids)

    @property
    def pending_messages(self) -> int:
        """Ink messages written but not yet due."""
        return len(self._queue)

    def ink_due_in_ms(self, now_ms: int) -> int | None:
        """True ms until the next ink message is due (0 if now), None if none is queued."""
        if not self._queue:
            return None
        ahead = self._queue[0][0] - self.clock_ms(now_ms)
        return max(0, int(np.ceil(ahead / (1.0 + self.config.drift_ppm * 1e-6))))

    def status(self) -> Status:
        c = self.config
        n = len(self.stored_batches)
        return Status(round(self._battery), 0, self.memory_used, c.memory_total, n)

    # --- the user ------------------------------------------------------------------------

    def write(self, ink: Ink, now_ms: int, *, retime: bool = False) -> None:
        """Queue ``ink`` to be written; its times are pen-clock times.

        With ``retime`` the ink is shifted so its first point is written now.
        Each message goes out (or into offline memory) when the pen clock
        reaches the time of its last dot.
        """
        if not len(ink):
            return
        shift = self.clock_ms(now_ms) - round(ink[0].start_ms) if retime else 0
        for stroke in ink:
            if shift:
                pts = stroke.points.copy()
                pts[:, 2] += shift
                stroke = Stroke(pts, stroke.pen_serial, stroke.page, stroke.raw, stroke.unit_mm)
            c = self.config
            messages = stroke_messages(stroke, self.stroke_no, c.units, c.dots_per_frame)
            self.stroke_no += 1
            t = np.rint(stroke.t).astype(np.int64)
            for msg in messages:
                if isinstance(msg, Dots):
                    due = int(t[msg.first_index + len(msg) - 1])
                elif isinstance(msg, PenUp):
                    due = msg.t_ms
                else:
                    due = int(t[0])
                self._queue.append((due, msg))

    def power_on(self, now_ms: int, battery_pct: float | None = None) -> None:
        """The user turns the pen on again (after a charge, if ``battery_pct`` is given)."""
        self._advance(now_ms)
        if battery_pct is not None:
            self._battery = float(battery_pct)
        if not self.is_on:
            self.is_on, self.shutdown_reason = True, None
            if self.connected:
                self._send(self._hello(now_ms))

    # --- the link ------------------------------------------------------------------------

    def connect(self, now_ms: int) -> None:
        """A host opened the line: the pen seals its offline batch and says hello."""
        self._advance(now_ms)
        if self.connected:
            return
        self.connected, self.accepted = True, False
        self._encoder, self._decoder = FrameEncoder(), StreamDecoder()
        self._out.clear()
        self._transfer, self._to_send, self._ended = None, deque(), set()
        self._seal()
        if self.is_on:
            self._send(self._hello(now_ms))

    def disconnect(self, now_ms: int | None = None) -> None:
        """The host closed the line: unsent bytes are lost, the pen goes offline."""
        if now_ms is not None:
            self._advance(now_ms)
        self.connected = self.accepted = False
        self._out.clear()
        self._transfer, self._to_send = None, deque()

    def feed_host(self, data: bytes, now_ms: int) -> None:
        """Bytes from the host."""
        self._advance(now_ms)
        if not self.connected or not self.is_on:
            return
        for event in self._decoder.feed(data):
            if isinstance(event, Received):
                self._handle(event.message, now_ms)
            else:
                self.host_events.append(event)

    def poll(self, now_ms: int) -> bytes:
        """Bytes the pen sends now (live ink that fell due, chunks, re-sends)."""
        self._advance(now_ms)
        t = self._transfer
        if t is not None and self.connected and now_ms - t.sent_at >= self.config.ack_timeout_ms:
            self._resend(now_ms)
        out = bytes(self._out)
        self._out.clear()
        return out

    # --- inside --------------------------------------------------------------------------

    def _hello(self, now_ms: int) -> Hello:
        c, u = self.config, self.config.units
        return Hello(
            PROTOCOL_VERSION,
            self.clock_ms(now_ms),
            u.unit_nm,
            u.fraction_den,
            u.force_max,
            c.sample_rate_hz,
            c.serial,
            c.model,
            c.firmware,
        )

    def _send(self, message: Message) -> None:
        if self.connected:
            self._out += self._encoder.encode(message)

    def _advance(self, now_ms: int) -> None:
        """Let time pass: drain the battery, release the ink that fell due."""
        c = self.config
        if self.is_on and now_ms > self._last_ms:
            self._battery -= (now_ms - self._last_ms) / 3_600_000 * c.drain_pct_per_hour
        self._last_ms = max(self._last_ms, now_ms)
        pen_now = self.clock_ms(now_ms)
        queue = self._queue
        while queue and queue[0][0] <= pen_now:
            _, msg = queue.popleft()
            n = len(msg) if isinstance(msg, Dots) else 0
            if not self.is_on:
                self.lost_dots += n
                continue
            self._battery -= n / 1000 * c.drain_pct_per_kdot
            if self.connected:
                self._send(msg)
            else:
                self._store(msg, now_ms)
        if self.is_on and self._battery < c.low_battery_pct:
            self._shutdown(ShutdownReason.LOW_BATTERY)

    def _store(self, msg: Message, now_ms: int) -> None:
        if self._open is None:
            self._open = _Batch(self._next_batch_id)
            self._next_batch_id += 1
            self._open_encoder = FrameEncoder()
            self._open.data += self._open_encoder.encode(self._hello(now_ms))
        frame = self._open_encoder.encode(msg)
        if self.memory_used + len(frame) > self.config.memory_total:
            self.lost_dots += len(msg) if isinstance(msg, Dots) else 0
            self._shutdown(ShutdownReason.MEMORY_FULL)
            return
        self._open.data += frame

    def _seal(self) -> None:
        if self._open is not None:
            self._batches.append(self._open)
            self._open = None

    def _shutdown(self, reason: ShutdownReason) -> None:
        """Status then Shutdown to a listening host; the pen is off until :meth:`power_on`."""
        self._send(self.status())
        self._send(Shutdown(reason))
        self.is_on, self.shutdown_reason = False, reason
        self._transfer, self._to_send = None, deque()
        for _, msg in self._queue:
            self.lost_dots += len(msg) if isinstance(msg, Dots) else 0
        self._queue.clear()

    def _handle(self, msg: Message, now_ms: int) -> None:
        if isinstance(msg, HelloAck):
            self.accepted = bool(msg.accepted) and msg.protocol_version == PROTOCOL_VERSION
            if self.accepted:
                self._send(self.status())
                if self.config.auto_send_batches:
                    self._start_batches(now_ms)
        elif isinstance(msg, SetTime):
            self._anchor_true, self._anchor_pen = now_ms, msg.t_ms
        elif isinstance(msg, RequestStatus):
            self._send(self.status())
        elif isinstance(msg, RequestBatches):
            if self._transfer is None and not self._to_send:
                self._start_batches(now_ms)
        elif isinstance(msg, Ack | Nak):
            t = self._transfer
            if t is None or (msg.batch_id, msg.index) != (t.batch.batch_id, t.index):
                self.host_events.append(msg)
            elif isinstance(msg, Nak):
                self._resend(now_ms)
            else:
                t.index += 1
                t.retries = 0
                self._send_chunk(now_ms)
        elif isinstance(msg, BatchCommit):
            self._commit(msg.batch_id)
        else:
            self.host_events.append(msg)

    def _start_batches(self, now_ms: int) -> None:
        self._to_send = deque(self._batches)
        self._next_transfer(now_ms)

    def _next_transfer(self, now_ms: int) -> None:
        self._transfer = None
        if not self._to_send:
            return
        batch = self._to_send.popleft()
        size = self.config.chunk_size
        n_chunks = max(1, -(-len(batch.data) // size))
        crc = zlib.crc32(batch.data)
        self._send(BatchBegin(batch.batch_id, n_chunks, len(batch.data), crc))
        self._transfer = _Transfer(batch, n_chunks)
        self._send_chunk(now_ms)

    def _send_chunk(self, now_ms: int) -> None:
        t = self._transfer
        assert t is not None
        if t.index >= t.n_chunks:
            self._send(BatchEnd(t.batch.batch_id))
            self._ended.add(t.batch.batch_id)
            self._next_transfer(now_ms)
            return
        size = self.config.chunk_size
        data = bytes(t.batch.data[t.index * size : (t.index + 1) * size])
        self._send(BatchChunk(t.batch.batch_id, t.index, data))
        t.sent_at = now_ms

    def _resend(self, now_ms: int) -> None:
        t = self._transfer
        assert t is not None
        t.retries += 1
        if t.retries > self.config.max_retries:
            self._transfer, self._to_send = None, deque()  # give up; the batch stays stored
            return
        self.resent_chunks += 1
        self._send_chunk(now_ms)

    def _commit(self, batch_id: int) -> None:
        """Delete a batch, but only one whose whole data went out on this connection."""
        if batch_id not in self._ended:
            self.host_events.append(BatchCommit(batch_id))
            return
        self._ended.discard(batch_id)
        self._batches = [b for b in self._batches if b.batch_id != batch_id]
        if self.is_on:
            self._send(BatchDeleted(batch_id))
