"""Test helpers: a minimal host for the simulated pen (decode what it sends, answer it).

Used by the device unit tests and the pty / pensim:// integration tests. It
waits on conditions with deadlines, never with fixed sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hardware_sim.vector_digits import write_digit
from pen.ink import Ink
from pen.page import PageAddress
from pen.wire import (
    BatchBegin,
    BatchChunk,
    BatchEnd,
    DuplicateFrame,
    FrameEncoder,
    Hello,
    HelloAck,
    LiveAck,
    Message,
    Received,
    Resent,
    StreamDecoder,
    decode_ink,
    decode_stream,
    encode_message,
)

PAGE = PageAddress(70, 12, 3, 41)
UNIT_MM = 0.0375


def digits_ink(text: str, t0: float, seed: int = 0) -> Ink:
    """Handwritten digits starting at pen-clock time ``t0`` (whole ms)."""
    rng = np.random.default_rng(seed)
    strokes = []
    t = float(t0)
    for i, ch in enumerate(text):
        written = write_digit(ch, (20 + 8 * i, 50, 7, 9), t, pen_serial="SIM", page=PAGE, rng=rng)
        strokes += written
        t = written[-1].end_ms + 300
    return Ink(tuple(strokes))


def assert_same_ink(decoded: Ink, written: Ink) -> None:
    """Same strokes, positions within half a device unit, times to the millisecond."""
    assert len(decoded) == len(written)
    for got, want in zip(decoded, written, strict=True):
        assert got.page == want.page
        assert len(got) == len(want)
        assert np.abs(got.points[:, :2] - want.points[:, :2]).max() <= UNIT_MM / 2 + 1e-9
        assert np.array_equal(got.t, np.rint(want.t))


class Host:
    """Decodes the pen's bytes into messages and encodes the host's answers."""

    def __init__(self) -> None:
        self.decoder = StreamDecoder()
        self.encoder = FrameEncoder()
        self.received: list[Message] = []
        self.anomalies: list[object] = []
        self.raw = bytearray()
        self.session_ms: int | None = None
        """The live session of the last hello (its ``pen_clock_ms``)."""
        self.last_seq: int | None = None
        """The seq of the last sequenced frame received."""

    def feed(self, data: bytes) -> list[Message]:
        self.raw += data
        new = []
        for event in self.decoder.feed(data):
            if isinstance(event, Received):
                new.append(event.message)
                if isinstance(event.message, Hello):
                    self.session_ms = event.message.pen_clock_ms
                if not isinstance(event.message, Resent):
                    self.last_seq = event.seq
            else:
                self.anomalies.append(event)
        self.received += new
        return new

    def hello_ack(self) -> bytes:
        """Accept the last hello, in the pen's own version."""
        (hello, *_) = self.of(Hello)[-1:]
        return self.encode(HelloAck.accepting(hello))

    def live_ack(self) -> bytes:
        """Acknowledge every live frame of the current session received so far (v2)."""
        assert self.session_ms is not None and self.last_seq is not None
        return self.encode(LiveAck(self.session_ms, self.last_seq))

    def encode(self, *messages: Message) -> bytes:
        return b"".join(self.encoder.encode(m) for m in messages)

    def of(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.received if isinstance(m, kind)]

    def batch_data(self, batch_id: int) -> bytes:
        """The data of a batch from its received chunks (the last copy of each index)."""
        begin = [b for b in self.of(BatchBegin) if b.batch_id == batch_id][-1]
        chunks = {c.index: c.data for c in self.of(BatchChunk) if c.batch_id == batch_id}
        assert sorted(chunks) == list(range(begin.n_chunks))
        data = b"".join(chunks[i] for i in range(begin.n_chunks))
        assert len(data) == begin.total_bytes
        return data

    def batch_ink(self, batch_id: int) -> Ink:
        ink, anomalies = decode_ink(self.batch_data(batch_id))
        assert anomalies == []
        return ink

    def ended(self, batch_id: int) -> bool:
        return any(e.batch_id == batch_id for e in self.of(BatchEnd))


def pump(
    read: Callable[[], bytes],
    host: Host,
    until: Callable[[Host], bool],
    timeout: float = 5.0,
    on_message: Callable[[Message], None] | None = None,
) -> None:
    """Read into ``host`` until ``until(host)`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not until(host):
        if time.monotonic() > deadline:
            kinds = [type(m).__name__ for m in host.received[-10:]]
            raise AssertionError(f"condition not met in {timeout} s; last messages: {kinds}")
        for msg in host.feed(read()):
            if on_message is not None:
                on_message(msg)


def line_sessions(connections: list[bytes], serial: str) -> dict[str, dict[int, bytes]]:
    """What a pen put on the line, frame by frame, in its own pen session (``serial@ms``):
    each connection's frames after their hello, and the frames re-sent (``Resent``, v2),
    by seq. A connection's last frame cut short is left out (the cable was pulled). Fails
    if a frame re-sent differs from the frame first sent under that seq, or if the line
    holds damage: these are what the pen emitted, as the agent must journal them."""
    out: dict[str, dict[int, bytes]] = {}

    def keep(session: str, seq: int, frame: bytes) -> None:
        first = out.setdefault(session, {}).setdefault(seq, frame)
        assert first == frame, f"{session} seq {seq}: two different frames"

    for stream in connections:
        session = ""
        for event in StreamDecoder().feed(stream):  # no flush: a tail cut short is not a frame
            if isinstance(event, DuplicateFrame):
                assert event.type == Hello.TYPE, event  # only an unanswered hello goes again
                continue
            assert isinstance(event, Received), event
            msg = event.message
            if isinstance(msg, Resent):
                (inner,) = decode_stream(msg.frame)
                assert isinstance(inner, Received)
                keep(f"{serial}@{msg.session_ms}", inner.seq, msg.frame)
                continue
            if isinstance(msg, Hello):
                session = f"{serial}@{msg.pen_clock_ms}"
            assert session, "a frame before any hello"
            keep(session, event.seq, encode_message(msg, event.seq))
    return out


def in_order(frames: dict[int, bytes]) -> list[bytes]:
    """A session's frames in the order the pen numbered them (from its hello, 0 in the sim)."""
    return [frames[seq] for seq in sorted(frames)]
