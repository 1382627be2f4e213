"""Decoding a byte stream into messages, with every anomaly reported as a typed event.

:class:`StreamDecoder` puts framing (:mod:`pen.wire.framing`), message decoding
(:mod:`pen.wire.messages`) and sequence tracking together. Fed arbitrary
chunks of bytes, it returns in stream order :class:`Received` for each good
message and one event per anomaly: :class:`~pen.wire.framing.Garbage`,
:class:`~pen.wire.framing.CorruptFrame`, :class:`MalformedMessage` (a frame
whose CRC is right but whose payload is not a message this version knows),
:class:`SequenceGap` and :class:`DuplicateFrame`. A duplicate is reported and
not delivered a second time; nothing is dropped without an event. A
:class:`~pen.wire.messages.Resent` frame (protocol v2) is unsequenced: it takes no
part in sequence tracking or duplicate detection.

:class:`FrameEncoder` is the sending side: it numbers frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pen.errors import WireError
from pen.wire.framing import CorruptFrame, FrameDecoder, Garbage, RawFrame, encode_frame
from pen.wire.messages import MESSAGE_TYPES, Dots, Hello, Message, Resent

SEQ_MODULUS = 1 << 16
_WINDOW = 64  # how many recent frames are remembered to recognise duplicates


@dataclass(frozen=True, slots=True)
class Received:
    """A message that arrived whole, with its sequence number and stream offset."""

    seq: int
    message: Message
    offset: int


@dataclass(frozen=True, slots=True)
class MalformedMessage:
    """A frame that checked out but whose payload cannot be decoded (or an unknown type)."""

    code: ClassVar[str] = "WIRE.103"
    type: int
    seq: int
    payload: bytes
    offset: int
    reason: str


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """The sequence number jumped: ``missing`` frames never arrived (0 if it went back)."""

    code: ClassVar[str] = "WIRE.104"
    expected: int
    received: int
    missing: int
    offset: int


@dataclass(frozen=True, slots=True)
class DuplicateFrame:
    """A frame identical to one recently received: reported, not delivered again."""

    code: ClassVar[str] = "WIRE.105"
    type: int
    seq: int
    offset: int


WireAnomaly = Garbage | CorruptFrame | MalformedMessage | SequenceGap | DuplicateFrame
WireEvent = Received | WireAnomaly


class StreamDecoder:
    """Incremental decoder from bytes to :data:`WireEvent`; one per direction of a link."""

    def __init__(self) -> None:
        self._frames = FrameDecoder()
        self._expected: int | None = None
        self._recent: list[tuple[int, int, bytes] | None] = [None] * _WINDOW

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the end of a frame."""
        return self._frames.pending

    def feed(self, data: bytes) -> list[WireEvent]:
        return self._process(self._frames.feed_raw(data))

    def flush(self) -> list[WireEvent]:
        """End of stream: report a frame cut off by the end as truncated."""
        return self._process(self._frames.flush())

    def _process(self, events: Sequence[RawFrame | Garbage | CorruptFrame]) -> list[WireEvent]:
        out: list[WireEvent] = []
        append = out.append
        recent = self._recent
        types = MESSAGE_TYPES
        dots_type = Dots.TYPE
        dots_from_payload = Dots.from_payload
        resent_type = Resent.TYPE
        expected = self._expected
        for ev in events:
            if type(ev) is not tuple:
                append(ev)  # type: ignore[arg-type]
                continue
            ftype, seq, payload, offset = ev
            if ftype == resent_type:  # unsequenced: an envelope, not a frame of the session
                try:
                    append(Received(seq, Resent.from_payload(payload), offset))
                except WireError as exc:
                    append(MalformedMessage(ftype, seq, payload, offset, exc.message))
                continue
            if seq != expected and expected is not None:
                if recent[seq % _WINDOW] == (seq, ftype, payload):
                    append(DuplicateFrame(ftype, seq, offset))
                    continue
                if ftype != Hello.TYPE:
                    ahead = (seq - expected) % SEQ_MODULUS
                    missing = ahead if ahead < SEQ_MODULUS // 2 else 0
                    append(SequenceGap(expected, seq, missing, offset))
            if ftype == Hello.TYPE:
                # A hello starts a new session: the pen's counter restarts freely.
                self._recent = recent = [None] * _WINDOW
            recent[seq % _WINDOW] = (seq, ftype, payload)
            expected = (seq + 1) % SEQ_MODULUS
            try:
                if ftype == dots_type:
                    message: Message = dots_from_payload(payload)
                else:
                    cls = types.get(ftype)
                    if cls is None:
                        raise WireError(f"unknown frame type 0x{ftype:02x}")
                    message = cls.from_payload(payload)
            except WireError as exc:
                append(MalformedMessage(ftype, seq, payload, offset, exc.message))
                continue
            append(Received(seq, message, offset))
        self._expected = expected
        return out


def decode_stream(data: bytes) -> list[WireEvent]:
    """Decode a complete recording in one call (feed, then flush)."""
    decoder = StreamDecoder()
    return decoder.feed(data) + decoder.flush()


class FrameEncoder:
    """Numbers and frames outgoing messages; one per direction of a link."""

    def __init__(self, start_seq: int = 0) -> None:
        self.next_seq = start_seq % SEQ_MODULUS

    def encode(self, message: Message) -> bytes:
        data = encode_frame(message.TYPE, self.next_seq, message.payload())
        self.next_seq = (self.next_seq + 1) % SEQ_MODULUS
        return data

    @staticmethod
    def encode_unsequenced(message: Resent) -> bytes:
        """A :class:`~pen.wire.messages.Resent`: seq 0, the counter does not move."""
        return encode_frame(message.TYPE, 0, message.payload())


def encode_message(message: Message, seq: int) -> bytes:
    """The bytes of one message sent with sequence number ``seq``."""
    return encode_frame(message.TYPE, seq, message.payload())
