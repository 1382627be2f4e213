"""The simulated pen: a pure, deterministic state machine speaking docs/pen-protocol.md.

:class:`SimulatedPen` owns what a real pen owns: its clock (offset and drift
in ppm, set by the host's ``SetTime``), its battery (draining with time and
ink), its offline memory (bounded; frames of ink written while no host is
connected, kept as batches until the host commits them) and the protocol
state (hello, status, batch transfer with ack/nak and timeouts).

Protocol v2 (the default; ``PenConfig.protocol_version=1`` makes a v1 pen): every
frame of a live session is kept (*retained*) until the host's ``LiveAck`` covers
it, and re-sent byte for byte in ``Resent`` frames after the next handshake or on
``LiveResend``; an older host that refuses the hello gets a v1 hello instead.
Retained frames count against the pen's memory like offline batches.

It does no I/O, starts no thread and reads no clock: every call takes
``now_ms``, the true time in milliseconds (the driver's clock). Bytes from
the host go in through :meth:`SimulatedPen.feed_host`; bytes to send come out
of :meth:`SimulatedPen.poll`. The drivers are :mod:`hardware_sim.pty_port`
(a real pty) and :mod:`hardware_sim.protocol_pensim` (a pyserial URL).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from pen.ink import Ink, Stroke
from pen.wire import (
    ANOTO_UNITS,
    LIVE_ACK_VERSION,
    MAX_RESENT_FRAME,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
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
    LiveAck,
    LiveResend,
    Message,
    Nak,
    PenUp,
    Received,
    RequestBatches,
    RequestStatus,
    Resent,
    SetTime,
    Shutdown,
    ShutdownReason,
    Status,
    StreamDecoder,
    encode_message,
    stroke_messages,
)
from pen.wire.stream import SEQ_MODULUS


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
    protocol_version: int = PROTOCOL_VERSION
    """The newest version the pen speaks: 2 retains live frames until acknowledged; 1 is
    a pen of protocol v1 (no live acknowledgement)."""
    resend_timeout_ms: int = 5_000
    """v2: send again (Resent) the frames of a session still unacknowledged this long after
    they were sent or last re-sent (doubling up to a minute while nothing is acked)."""
    hello_timeout_ms: int = 3_000
    """v2: send the same hello frame again when no HelloAck came this long after it
    (doubling up to a minute); v1 pens wait."""

    def __post_init__(self) -> None:
        if self.protocol_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"protocol version {self.protocol_version} is not one of "
                             f"{SUPPORTED_VERSIONS}")  # fmt: skip
        if 2 * (self.chunk_size + 17) + 2 > MAX_RESENT_FRAME:
            raise ValueError(f"chunk_size {self.chunk_size} is too large to be re-sent")


@dataclass(slots=True)
class _Batch:
    batch_id: int
    data: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Retained:
    """Frames of one live session the host has not acknowledged yet, oldest first."""

    session_ms: int
    """The ``pen_clock_ms`` of the session's hello: how the host names the session."""
    frames: deque[tuple[int, bytes]] = field(default_factory=deque)
    """(seq, the frame's exact bytes on the wire)."""
    size: int = 0
    due_ms: int = 0
    """When to send the frames held again if no ack comes (0: from the next poll on)."""
    wait_ms: int = 0


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
        self.resent_frames = 0
        """Live frames sent again in ``Resent`` frames (protocol v2)."""
        self.version: int | None = None
        """The protocol version agreed with the host on this connection (None: not yet)."""
        self.timer_scale = 1.0
        """Pen-clock ms per ms of the host's time. The protocol's timeouts are about how
        soon the host answers, which a driver running N times faster than life does not
        speed up: such a driver sets N (the timeouts in PenConfig are in the host's time)."""
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
        self._offered = c.protocol_version  # the version of the last hello
        self._retained: dict[int, _Retained] = {}  # by session, oldest first
        self._session: _Retained | None = None  # the live session being sent, if retained
        self._sessions_used: set[int] = set()  # a real pen keeps them in flash
        self._hello_at = 0  # when the last hello went out, and how long to wait for an answer
        self._hello_frame = b""
        self._hello_wait = c.hello_timeout_ms

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
        """Bytes of offline batches and of live frames not yet acknowledged."""
        stored = sum(len(b.data) for b in self._batches)
        retained = sum(r.size for r in self._retained.values())
        return stored + retained + (len(self._open.data) if self._open else 0)

    @property
    def unacked_frames(self) -> int:
        """Live frames sent and not yet acknowledged by a host (protocol v2)."""
        return sum(len(r.frames) for r in self._retained.values())

    @property
    def unacked_sessions(self) -> tuple[int, ...]:
        """The sessions (``session_ms``) that still have frames waiting for an ack."""
        return tuple(k for k, r in self._retained.items() if r.frames)

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
                self._offered = self.config.protocol_version
                self._say_hello(now_ms)

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
        self._offered = self.config.protocol_version  # a new host may speak it
        self._hello_wait = self.config.hello_timeout_ms
        if self.is_on:
            self._say_hello(now_ms)

    def disconnect(self, now_ms: int | None = None) -> None:
        """The host closed the line: unsent bytes are lost, the pen goes offline."""
        if now_ms is not None:
            self._advance(now_ms)
        self.connected = self.accepted = False
        self.version = None
        self._out.clear()
        self._transfer, self._to_send = None, deque()
        self._end_session()

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
        t, c = self._transfer, self.config
        if t is not None and self.connected and now_ms - t.sent_at >= self._ms(c.ack_timeout_ms):
            self._resend_chunk(now_ms)
        if self.connected and self.is_on and self._acknowledging and self._retained:
            self._resend_overdue(now_ms)
        waiting = self.connected and self.is_on and not self.accepted and self._session
        if waiting and now_ms - self._hello_at >= self._ms(self._hello_wait):  # answer lost?
            self._hello_wait = min(2 * self._hello_wait, 60_000)
            self._hello_at = now_ms
            self._out += self._hello_frame  # the same frame: the same session
        out = bytes(self._out)
        self._out.clear()
        return out

    # --- inside --------------------------------------------------------------------------

    def _hello(self, now_ms: int) -> Hello:
        c, u = self.config, self.config.units
        return Hello(
            c.protocol_version,
            self.clock_ms(now_ms),
            u.unit_nm,
            u.fraction_den,
            u.force_max,
            c.sample_rate_hz,
            c.serial,
            c.model,
            c.firmware,
        )

    def _say_hello(self, now_ms: int) -> None:
        """A hello opens a new live session; from v2 on, its frames are retained."""
        self._end_session()
        self.accepted, self.version = False, None
        hello = self._hello(now_ms)
        clock = hello.pen_clock_ms
        while clock in self._sessions_used:
            clock += 1  # the session's name must be new (a clock set back, the same ms)
        self._sessions_used.add(clock)
        hello = dataclasses.replace(hello, protocol_version=self._offered, pen_clock_ms=clock)
        self._hello_at = now_ms
        if self._offered >= LIVE_ACK_VERSION:
            self._session = self._retained[clock] = _Retained(clock)
        self._hello_frame = encode_message(hello, self._encoder.next_seq)
        self._send(hello)

    def _end_session(self) -> None:
        """Stop retaining into the current session (a session with nothing held is gone)."""
        r, self._session = self._session, None
        if r is not None and not r.frames:
            self._retained.pop(r.session_ms, None)

    def _drop_session(self) -> None:
        """Retain nothing more of the current session, and forget what it holds."""
        if self._session is not None:
            self._retained.pop(self._session.session_ms, None)
            self._session = None

    def _send(self, message: Message, *, ink: bool = False) -> bool:
        """Frame ``message`` and send it, retained in a v2 session. False (nothing sent)
        when it is ink and the memory cannot retain it."""
        if not self.connected:
            return True
        seq = self._encoder.next_seq
        frame = encode_message(message, seq)
        kept = self._session
        if kept is not None:
            if ink and self.memory_used + len(frame) > self.config.memory_total:
                return False
            kept.frames.append((seq, frame))
            kept.size += len(frame)
        self._encoder.next_seq = (seq + 1) % SEQ_MODULUS
        self._out += frame
        return True

    def _resend(self, session: _Retained, now_ms: int) -> None:
        """Every frame of ``session`` still held, again, byte for byte (unsequenced)."""
        for _, frame in session.frames:
            self._out += FrameEncoder.encode_unsequenced(Resent(session.session_ms, frame))
            self.resent_frames += 1
        wait = session.wait_ms
        session.wait_ms = min(2 * wait, 60_000) if wait else self.config.resend_timeout_ms
        session.due_ms = now_ms + self._ms(session.wait_ms)

    def _resend_overdue(self, now_ms: int) -> None:
        """Frames sent and not acknowledged in time (the frame, or its ack, was lost)."""
        for held in list(self._retained.values()):
            if not held.frames:
                continue
            if not held.due_ms:
                held.due_ms = now_ms + self._ms(self.config.resend_timeout_ms)
            elif now_ms >= held.due_ms:
                self._resend(held, now_ms)

    def _live_ack(self, ack: LiveAck) -> None:
        r = self._retained.get(ack.session_ms)
        if r is None or not any(seq == ack.up_to_seq for seq, _ in r.frames):
            return  # already forgotten: an ack repeated for frames re-sent meanwhile
        while r.frames:
            seq, frame = r.frames.popleft()
            r.size -= len(frame)
            if seq == ack.up_to_seq:
                break
        r.due_ms = r.wait_ms = 0  # progress: the clock for what is left starts again
        if not r.frames and r is not self._session:
            del self._retained[ack.session_ms]

    def _advance(self, now_ms: int) -> None:
        """Let time pass: drain the battery, release the ink that fell due."""
        c = self.config
        if self.is_on and now_ms > self._last_ms:
            self._battery -= (now_ms - self._last_ms) / 3_600_000 * c.drain_pct_per_hour
        self._last_ms = max(self._last_ms, now_ms)
        pen_now = self.clock_ms(now_ms)
        queue = self._queue
        # A v2 pen sends ink only once the host has answered its hello (retained or not).
        held = self.connected and self._session is not None and not self.accepted
        while queue and queue[0][0] <= pen_now and not (held and self.is_on):
            _, msg = queue.popleft()
            n = len(msg) if isinstance(msg, Dots) else 0
            if not self.is_on:
                self.lost_dots += n
                continue
            self._battery -= n / 1000 * c.drain_pct_per_kdot
            if not self.connected:
                self._store(msg, now_ms)
            elif not self._send(msg, ink=True):  # the memory cannot retain it
                self.lost_dots += n
                self._shutdown(ShutdownReason.MEMORY_FULL)
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
            if self._answers_another_hello(msg):
                self.host_events.append(msg)
                return
            self.accepted = bool(msg.accepted) and msg.protocol_version == self._offered
            if self.accepted:
                self.version = self._offered
                self._send(self.status())
                for held in list(self._retained.values()):
                    if held is not self._session and self._acknowledging:
                        self._resend(held, now_ms)
                if self.config.auto_send_batches:
                    self._start_batches(now_ms)
            elif (
                not msg.accepted
                and msg.protocol_version in SUPPORTED_VERSIONS
                and (msg.protocol_version < self._offered)
            ):
                # An older host: it saw the hello, will never acknowledge that session, and
                # gets a hello in its own version (docs/pen-protocol.md, "Versions").
                self._drop_session()
                self._offered = msg.protocol_version
                self._say_hello(now_ms)
            else:  # refused: nothing of this session will be acknowledged
                self._drop_session()
        elif isinstance(msg, LiveAck):
            self._live_ack(msg)
        elif isinstance(msg, LiveResend):
            asked = self._retained.get(msg.session_ms)
            if asked is not None and self._acknowledging:
                self._resend(asked, now_ms)
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
                self._resend_chunk(now_ms)
            else:
                t.index += 1
                t.retries = 0
                self._send_chunk(now_ms)
        elif isinstance(msg, BatchCommit):
            self._commit(msg.batch_id)
        else:
            self.host_events.append(msg)

    def _ms(self, host_ms: int) -> int:
        """A timeout in the host's time, on the pen's clock."""
        return round(host_ms * self.timer_scale)

    @property
    def _acknowledging(self) -> bool:
        """The host of this connection agreed on v2: it takes (and acks) ``Resent`` frames."""
        return self.version is not None and self.version >= LIVE_ACK_VERSION

    def _answers_another_hello(self, ack: HelloAck) -> bool:
        """A v2 hello's answer names it; only a refusal (from a v1 host) may name none."""
        if self._session is None or ack.session_ms == self._session.session_ms:
            return False
        return bool(ack.accepted) or ack.session_ms is not None

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

    def _resend_chunk(self, now_ms: int) -> None:
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
