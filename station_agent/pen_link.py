"""The link to one pen over pyserial: handshake, journal first, then answer; reconnect.

:class:`PenLink` opens a port by URL (``serial.serial_for_url``: a device
path, ``pensim://``, ``socket://``, ``spy://``), and for every chunk of
bytes it reads:

1. decodes it (:class:`pen.wire.StreamDecoder`, :class:`pen.wire.InkAssembler`);
2. writes the raw bytes, every message, every anomaly and every batch chunk
   to the :class:`~station_agent.journal.Journal` in one transaction (a v2
   pen's plain live ink may wait up to :data:`HOLD_S` to share the commit of
   the reads that follow: nothing of it is answered or shown before);
3. only then answers the pen: ``HelloAck`` + ``SetTime`` (recording the pen
   clock offset) + ``RequestBatches`` after a hello, ``Ack`` for a chunk now
   durable, and after ``BatchEnd`` checks the batch's size and CRC, journals
   its decoded events atomically and sends ``BatchCommit`` (``Nak`` on a
   mismatch: the pen keeps the batch); with a pen of protocol v2, a cumulative
   ``LiveAck`` for the live frames now durable (and ``LiveResend`` when one is
   missing; :mod:`station_agent.live_acks` decides which frames to journal).

A v2 pen's frames are journaled in their own pen session, each once and in order,
whether they come live or re-sent (``Resent``) on a later connection. It speaks v1 to a
v1 pen (answering each pen in its own version), as before.

It reports what happened as typed :data:`~station_agent.link_events.LinkEvent`
values for the screen (re-exported here).
When the port disappears it closes it and retries with exponential backoff.
:meth:`PenLink.step` does one read (tests drive it without threads);
:meth:`PenLink.run` loops until a stop event is set.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import serial

from pen.ink import Stroke
from pen.wire import (
    LIVE_ACK_VERSION,
    SUPPORTED_VERSIONS,
    Ack,
    BatchBegin,
    BatchChunk,
    BatchCommit,
    BatchEnd,
    Dots,
    DuplicateFrame,
    FrameEncoder,
    Hello,
    HelloAck,
    InkAssembler,
    Message,
    Nak,
    NakReason,
    Page,
    PenDown,
    PenUp,
    Received,
    RequestBatches,
    Resent,
    SetTime,
    Shutdown,
    ShutdownReason,
    Status,
    StreamDecoder,
    decode_stream,
)
from pen.wire.framing import ETX, STX
from station_agent.journal import ChunkRecord, EventRecord, Journal
from station_agent.link_events import (
    Anomaly,
    BatchProgress,
    BatchSaved,
    Connected,
    Disconnected,
    InkCaptured,
    LinkEvent,
    PenStatus,
)
from station_agent.live_acks import LiveLedger, Offer
from station_agent.records import (
    AgentNote,
    PenContext,
    anomaly_record,
    batch_records,
    frame_crc,
    message_record,
    note_record,
)
from station_agent.serial_port import Backoff, SerialLike, serial_opener

__all__ = [
    "Anomaly",
    "Backoff",
    "BatchProgress",
    "BatchSaved",
    "Connected",
    "Disconnected",
    "InkCaptured",
    "LinkEvent",
    "PenLink",
    "PenStatus",
    "SerialLike",
    "serial_opener",
]

DISCONNECTED = "AGENT.101"
SHUTDOWN = "AGENT.106"

MAX_FRAME_BYTES = 2 * (5 + 65_535 + 4) + 2
"""The longest frame on the line (every byte escaped), to find an unfinished one."""

CLOCK_FAR_OFF_MS = 5 * 60_000
"""A pen clock further than this from the laptop's is reported (and corrected)."""

HOLD_S = 0.2
"""A v2 pen's plain live ink is committed at most this long after it is read, with what
comes meanwhile: one journal transaction (one fsync) for a few reads. Nothing is answered
or shown before its commit, and the pen keeps every frame until its ``LiveAck``, which
goes at most every :data:`~station_agent.live_acks.ACK_EVERY_S` (0.25 s) anyway."""
HOLD_BYTES = 64 * 1024
"""Commit at once past this many bytes held."""
_INK = (PenDown, Page, Dots, PenUp, Status)
"""Live messages whose commit may wait (:data:`HOLD_S`): ink and the pen's status."""


@dataclass(slots=True)
class _Held:
    """Read and decoded, not yet journaled: nothing of it is answered or shown yet."""

    start: int
    """Stream offset of the first byte held."""
    data: list[bytes]
    records: list[EventRecord]
    todo: list[tuple[Any, ...]]
    since: float
    """``time.monotonic()`` of the first read held."""
    size: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PenLink:
    """Reads one pen's port into the journal and answers it. Not thread-safe."""

    def __init__(
        self,
        journal: Journal,
        opener: Callable[[], SerialLike],
        *,
        port_name: str = "",
        known_pens: Iterable[str] | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        backoff: Backoff | None = None,
        versions: Collection[int] = SUPPORTED_VERSIONS,
    ) -> None:
        """``versions``: the pen protocol versions to accept (an older agent: ``(1,)``)."""
        self.journal = journal
        self.versions = frozenset(versions)
        self._ledger = LiveLedger(journal.last_live_seq)
        self.port_name = port_name
        self.known_pens = frozenset(known_pens) if known_pens is not None else None
        self._opener = opener
        self._clock = clock_ms
        self._backoff = backoff or Backoff()
        self._retry_at = 0.0
        self._port: SerialLike | None = None
        self._down_reported = ""
        self.strokes = 0
        self._pages: set[object] = set()
        self._held: _Held | None = None
        self._reset_connection(None)

    def _reset_connection(self, connection_id: int | None) -> None:
        self.connection_id = connection_id
        self._offset = 0
        self._decoder = StreamDecoder()
        self._encoder = FrameEncoder()
        self._assembler = InkAssembler()
        self._ctx = PenContext(pen_session=f"conn{connection_id}")
        self._transfers: dict[int, BatchBegin] = {}
        self._chunks_in: dict[int, set[int]] = {}
        self._clock_jump_seen = False
        self._live: tuple[str, int] | None = None  # (session, session_ms) if it is v2
        self._before_hello = False  # a v2 pen's leftovers: it sends them again
        self._leftovers_noted = False
        self._resent_ink: dict[str, InkAssembler] = {}  # strokes re-sent, to count them
        self._hello_ack: HelloAck | None = None  # the answer to this connection's hello

    @property
    def connected(self) -> bool:
        return self._port is not None

    # --- driving -------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_event: Callable[[LinkEvent], None]) -> None:
        """Step until ``stop`` is set, passing every event to ``on_event``; closes the port."""
        try:
            while not stop.is_set():
                for event in self.step():
                    on_event(event)
                if self._port is None:
                    stop.wait(max(0.0, self._retry_at - time.monotonic()))
        finally:
            for event in self.flush():
                on_event(event)
            self.close()

    def step(self) -> list[LinkEvent]:
        """Open the port if due, read what is there (up to the port's timeout), act on it."""
        out: list[LinkEvent] = []
        if self._port is None and not self._open(out):
            return out
        port = self._port
        assert port is not None
        try:
            data = port.read(max(1, port.in_waiting))
            if data and port.in_waiting:  # the rest of what came with the first byte:
                data += port.read(port.in_waiting)  # one journal transaction, not two
        except (serial.SerialException, OSError) as exc:
            self._lost(out, str(exc))
            return out
        if data:
            self._process(data, out)
        elif self._held is not None:  # the line is quiet: what was held goes now
            out += self.flush()
        elif self._ledger.acks_pending:  # the line is quiet: what was held back goes now
            self._answer(out)
        return out

    def flush(self) -> list[LinkEvent]:
        """Journal what was read and held (:data:`HOLD_S`), then answer and report it."""
        out: list[LinkEvent] = []
        if self._held is not None:
            self._commit(b"", [], [], [], out)
        return out

    def close(self) -> None:
        if self._port is not None:
            port, self._port = self._port, None
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _open(self, out: list[LinkEvent]) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            port = self._opener()
        except (serial.SerialException, OSError, ValueError) as exc:
            self._lost(out, str(exc), getattr(exc, "code", DISCONNECTED))
            return False
        self._port = port
        cid = self.journal.begin_connection(self.port_name, self._clock())
        self._reset_connection(cid)
        self._resume(cid)
        return True

    def _resume(self, cid: int) -> None:
        """Carry on the previous connection of the same port, for the bytes the pen sent
        that nobody read before it went away (a killed agent): the operating system keeps
        them and :func:`serial_opener` does not discard them. They belong to the pen
        session last seen, and may finish the frame the previous connection stopped in."""
        prev = self.journal.previous_connection(cid)
        if prev is None:
            return
        pen = self.journal.last_live_pen(cid)
        if pen is not None:
            self._ctx = PenContext(*pen)
            # A v2 pen re-sends all that is not acknowledged, each frame in its own
            # session: the leftovers are kept as raw bytes, not guessed into a session.
            self._before_hello = (self.journal.live_version(pen[1]) or 0) >= LIVE_ACK_VERSION
        tail = self.journal.raw_tail(prev, MAX_FRAME_BYTES)
        start = tail.rfind(bytes([STX]))
        if start > tail.rfind(bytes([ETX])):
            self._decoder.feed(tail[start:])  # an unfinished frame: its end may be waiting

    def _lost(self, out: list[LinkEvent], reason: str, code: str = "") -> None:
        if self._held is not None:  # read before the port went: journal it (no answer)
            held, self._held = self._held, None
            self._journal(held.start, b"".join(held.data), held.records, [])
            for item in held.todo:  # ink and status only: nothing to send to the pen
                self._after(item, out)
        self.close()
        delay = self._backoff.fail()
        self._retry_at = time.monotonic() + delay
        code = code or DISCONNECTED
        if self._down_reported != code:  # said once, and again only if the cause changes
            out.append(Disconnected(reason, delay, code))
        self._down_reported = code

    def _send(self, out: list[LinkEvent], *messages: Message) -> None:
        port = self._port
        if port is None:
            return
        try:
            port.write(b"".join(self._encoder.encode(m) for m in messages))
        except (serial.SerialException, OSError) as exc:
            self._lost(out, str(exc))

    # --- one chunk of bytes --------------------------------------------------------------

    def _process(self, data: bytes, out: list[LinkEvent]) -> None:
        now = self._clock()
        cid = self.connection_id
        start = self._offset
        self._offset += len(data)
        records: list[EventRecord] = []
        chunks: list[ChunkRecord] = []
        todo: list[tuple[Any, ...]] = []  # what to do once durable
        for event in self._decoder.feed(data):
            if not isinstance(event, Received):
                key = f"live:{cid}:{event.offset}:{type(event).__name__}"
                records.append(anomaly_record(event, self._ctx, key))
                todo.append(("anomaly", records[-1]))
                if isinstance(event, DuplicateFrame) and event.type == Hello.TYPE:
                    todo.append(("again",))  # a v2 pen says hello again: the answer was lost
                continue
            msg = event.message
            if isinstance(msg, Resent):
                self._resent(msg, event, records, todo)
                continue
            if isinstance(msg, Hello):
                if not self._hello(msg, event, now, records, todo):
                    continue  # a v2 hello journaled already (one left on the line, re-sent)
            elif not self._take(event, records):
                continue  # the pen sends it again (protocol v2)
            elif isinstance(msg, PenDown) and self._clock_jumped(msg, now):
                # the pen clock jumped since the hello (a reset to 1970...): say so, reset it
                off = {"offset_ms": now - msg.t_ms, "laptop_ms": now, "pen_ms": msg.t_ms}
                note = AgentNote("ClockJump", "AGENT.104", off)
                records.append(
                    note_record(note, self._ctx, f"agent:{cid}:{event.offset}:ClockJump")
                )
                todo += [("anomaly", records[-1]), ("settime",)]
            crc = frame_crc(msg, event.seq)
            key = f"live:{self._ctx.pen_session}:{event.seq}:{crc:08x}"
            records.append(message_record(event, self._ctx, key))
            if isinstance(msg, BatchChunk):
                begin = self._transfers.get(msg.batch_id)
                if begin is None:
                    note = AgentNote("UnknownBatch", "AGENT.103", {"batch_id": msg.batch_id})
                    records.append(note_record(note, self._ctx, f"agent:{cid}:{event.offset}"))
                    todo.append(("nak", msg, NakReason.UNKNOWN_BATCH))
                else:
                    chunk = ChunkRecord(
                        self._ctx.pen_serial, msg.batch_id, begin.crc32, msg.index, msg.data
                    )
                    chunks.append(chunk)
                    todo.append(("ack", msg))
                continue
            if isinstance(msg, BatchBegin):
                self._transfers[msg.batch_id] = msg
                self._chunks_in[msg.batch_id] = set()
            todo.append(("message", msg))
            for n, ink in enumerate(self._assembler.feed((msg,))):
                if isinstance(ink, Stroke):
                    todo.append(("stroke", ink))
                else:
                    ink_key = f"live:{cid}:{event.offset}:{type(ink).__name__}:{n}"
                    records.append(anomaly_record(ink, self._ctx, ink_key))
                    todo.append(("anomaly", records[-1]))
        if HOLD_S > 0 and self._live is not None and not chunks and all(map(_holdable, todo)):
            held = self._held
            if held is None:
                self._held = _Held(start, [data], records, todo, time.monotonic(), len(data))
                return
            if time.monotonic() - held.since < HOLD_S and held.size + len(data) < HOLD_BYTES:
                held.data.append(data)
                held.records += records
                held.todo += todo
                held.size += len(data)
                return
        self._commit(data, records, chunks, todo, out, start)

    def _commit(
        self,
        data: bytes,
        records: list[EventRecord],
        chunks: list[ChunkRecord],
        todo: list[tuple[Any, ...]],
        out: list[LinkEvent],
        start: int = 0,
    ) -> None:
        """Journal what is held and this read in one transaction; then answer and report."""
        held, self._held = self._held, None
        if held is not None:
            start, data = held.start, b"".join(held.data) + data
            records, todo = held.records + records, held.todo + todo
        self._journal(start, data, records, chunks)
        # Durable from here on: answer the pen and tell the screen.
        for item in todo:
            self._after(item, out)
        self._answer(out)

    def _journal(
        self, start: int, data: bytes, records: list[EventRecord], chunks: list[ChunkRecord]
    ) -> None:
        raw = (start, data) if data else None
        try:
            self.journal.record(self.connection_id, self._clock(), records, raw=raw, chunks=chunks)
        except BaseException:
            self._ledger.forget()  # it counted frames that are not journaled
            raise

    def _answer(self, out: list[LinkEvent]) -> None:
        """LiveAck / LiveResend for what the journal holds (never between read and commit)."""
        acks = self._ledger.answers(time.monotonic())
        if acks:
            self._send(out, *acks)

    def _take(self, event: Received, records: list[EventRecord]) -> bool:
        """Whether to journal a frame read live: in a v2 session only the next one."""
        if self._live is not None:
            session, session_ms = self._live
            return self._ledger.offer(session, session_ms, event.seq) is Offer.NEW
        if self._before_hello:
            if not self._leftovers_noted:  # said once per connection: raw bytes only
                self._leftovers_noted = True
                note = AgentNote("LeftoversResent", "", {"pen_session": self._ctx.pen_session})
                key = f"agent:{self.connection_id}:{event.offset}:LeftoversResent"
                records.append(note_record(note, self._ctx, key))
            return False
        return True

    def _resent(
        self, resent: Resent, event: Received, records: list[EventRecord], todo: list[Any]
    ) -> None:
        """A frame a v2 pen sent again: journal it in its own session if it is the next."""
        cid = self.connection_id
        inner = decode_stream(resent.frame)
        serial = self._ctx.pen_serial
        if len(inner) != 1 or not isinstance(inner[0], Received):
            for n, bad in enumerate(inner):  # the pen's copy is damaged: keep the evidence
                key = f"live:{cid}:{event.offset}:Resent:{type(bad).__name__}:{n}"
                records.append(anomaly_record(bad, self._ctx, key))
                todo.append(("anomaly", records[-1]))
            return
        if self._before_hello or not serial:
            return  # before this connection's hello: the pen sends it again after it
        got = inner[0]
        session = f"{serial}@{resent.session_ms}"
        hello = isinstance(got.message, Hello)
        if self._ledger.offer(session, resent.session_ms, got.seq, hello=hello) is not Offer.NEW:
            return
        ctx = PenContext(serial, session, self._ctx.flagged)
        key = f"live:{session}:{got.seq}:{frame_crc(got.message, got.seq):08x}"
        records.append(message_record(Received(got.seq, got.message, event.offset), ctx, key))
        current = self._live is not None and self._live[0] == session
        assembler = (
            self._assembler
            if current
            else self._resent_ink.setdefault(session, InkAssembler(serial))
        )
        for n, ink in enumerate(assembler.feed((got.message,))):
            if isinstance(ink, Stroke):
                todo.append(("stroke", ink))
            elif current:  # another session's assembler starts mid-session: no verdict
                ink_key = f"live:{cid}:{event.offset}:{type(ink).__name__}:{n}"
                records.append(anomaly_record(ink, ctx, ink_key))
                todo.append(("anomaly", records[-1]))

    def _clock_jumped(self, pen_down: PenDown, now: int) -> bool:
        """A live pen-down far from the laptop's clock, the first on this connection."""
        if self._clock_jump_seen or not self._ctx.pen_serial:
            return False
        self._clock_jump_seen = abs(now - pen_down.t_ms) > CLOCK_FAR_OFF_MS
        return self._clock_jump_seen

    def _hello(
        self,
        hello: Hello,
        event: Received,
        now: int,
        records: list[EventRecord],
        todo: list[tuple[Any, ...]],
    ) -> bool:
        """The pen on the line and its session; notes; the answer to come. Whether to
        journal the hello (not a v2 hello journaled already)."""
        known = self.known_pens is None or hello.serial in self.known_pens
        session = f"{hello.serial}@{hello.pen_clock_ms}"
        self._ctx = PenContext(hello.serial, session, not known)
        self._clock_jump_seen = False
        self._transfers, self._chunks_in = {}, {}
        self._before_hello = False
        version = hello.protocol_version
        self._live, new = None, True
        if version in self.versions and version >= LIVE_ACK_VERSION:
            self._live = (session, hello.pen_clock_ms)
            offer = self._ledger.offer(session, hello.pen_clock_ms, event.seq, hello=True)
            new = offer is Offer.NEW
        offset = now - hello.pen_clock_ms
        base = f"agent:{self.connection_id}:{event.offset}"
        notes = [AgentNote("ClockSet", "", {"offset_ms": offset, "laptop_ms": now})]
        if abs(offset) > CLOCK_FAR_OFF_MS:
            notes.append(AgentNote("ClockFarOff", "AGENT.104", {"offset_ms": offset}))
        if not known:
            notes.append(AgentNote("UnknownPen", "AGENT.102", {"serial": hello.serial}))
        if version not in self.versions:
            versions = {"pen": version, "agent": max(self.versions)}
            notes.append(AgentNote("VersionRefused", "AGENT.105", versions))
        for note in notes:
            records.append(note_record(note, self._ctx, f"{base}:{note.kind}"))
            if note.code:
                todo.append(("anomaly", records[-1]))
        todo.append(("hello", hello, offset, known))
        return new

    def _after(self, item: tuple[Any, ...], out: list[LinkEvent]) -> None:
        what = item[0]
        if what == "anomaly":
            rec: EventRecord = item[1]
            out.append(Anomaly(rec.code, rec.kind, rec.detail))
        elif what == "hello":
            hello, offset, known = item[1], item[2], item[3]
            if hello.protocol_version not in self.versions:
                self._send(out, HelloAck(max(self.versions), 0))
                return
            self._hello_ack = HelloAck.accepting(hello)
            self._send(out, self._hello_ack, SetTime(self._clock()))
            self._send(out, RequestBatches())
            self._backoff.reset()
            self._down_reported = ""
            out.append(Connected(hello.serial, hello.model, hello.firmware, offset, known))
        elif what == "ack":
            chunk: BatchChunk = item[1]
            self._send(out, Ack(chunk.batch_id, chunk.index))
            got = self._chunks_in.setdefault(chunk.batch_id, set())
            got.add(chunk.index)
            n = self._transfers[chunk.batch_id].n_chunks
            out.append(BatchProgress(chunk.batch_id, len(got), n))
        elif what == "again":
            if self._hello_ack is not None:
                self._send(out, self._hello_ack)
        elif what == "settime":
            self._send(out, SetTime(self._clock()))
        elif what == "nak":
            chunk = item[1]
            self._send(out, Nak(chunk.batch_id, chunk.index, item[2]))
        elif what == "stroke":
            self._count([item[1]], out)
        elif what == "message":
            msg = item[1]
            if isinstance(msg, Status):
                out.append(
                    PenStatus(
                        msg.battery_pct,
                        bool(msg.charging),
                        msg.memory_used,
                        msg.memory_total,
                        msg.offline_batches,
                    )
                )
            elif isinstance(msg, Shutdown):
                full = msg.reason == ShutdownReason.MEMORY_FULL
                code, kind = ("AGENT.109", "PenMemoryFull") if full else (SHUTDOWN, "PenShutdown")
                out.append(Anomaly(code, kind, f'{{"reason": {msg.reason}}}'))
            elif isinstance(msg, BatchEnd):
                self._finish_batch(msg.batch_id, out)

    def _count(self, strokes: list[Stroke], out: list[LinkEvent]) -> None:
        self.strokes += len(strokes)
        self._pages.update(s.page for s in strokes if s.page is not None)
        out.append(InkCaptured(self.strokes, len(self._pages)))

    def _finish_batch(self, batch_id: int, out: list[LinkEvent]) -> None:
        begin = self._transfers.pop(batch_id, None)
        cid = self.connection_id
        if begin is None or cid is None:
            return
        serial_no = self._ctx.pen_serial
        data = self.journal.batch_data(cid, serial_no, batch_id, begin.crc32, begin.n_chunks)
        if data is None or len(data) != begin.total_bytes or zlib.crc32(data) != begin.crc32:
            got = -1 if data is None else len(data)
            crc = -1 if data is None else zlib.crc32(data)
            note = AgentNote(
                "BatchRejected",
                "AGENT.107",
                {"batch_id": batch_id, "bytes": got, "expected_bytes": begin.total_bytes,
                 "crc32": crc, "expected_crc32": begin.crc32},
            )  # fmt: skip
            rec = note_record(note, self._ctx, f"agent:{cid}:{self._offset}:BatchRejected")
            self.journal.record(cid, self._clock(), [rec])
            out.append(Anomaly(rec.code, rec.kind, rec.detail))
            self._send(out, Nak(batch_id, 0, NakReason.CRC))
            return
        records, strokes = batch_records(data, serial_no, batch_id, begin.crc32, self._ctx.flagged)
        new = self.journal.complete_batch(
            cid, self._clock(), serial_no, batch_id, begin.crc32, begin.total_bytes, records
        )
        self._send(out, BatchCommit(batch_id))
        out.append(BatchSaved(batch_id, len(strokes), already_saved=not new))
        if new:
            self._count(strokes, out)
        for rec in records:
            if rec.code and new:
                out.append(Anomaly(rec.code, rec.kind, rec.detail))


def _holdable(item: tuple[Any, ...]) -> bool:
    """Whether a to-do item of a read may wait for a later commit (:data:`HOLD_S`)."""
    return item[0] == "stroke" or (item[0] == "message" and isinstance(item[1], _INK))
