"""Framing of the pen wire protocol: escaping, CRC, and an incremental frame decoder.

On the wire a frame is ``START body END`` where the body, before escaping, is::

    type u8 | seq u16 | length u16 | payload (length bytes) | crc32 u32

all little-endian; the CRC-32 (IEEE 802.3, as :func:`zlib.crc32`) covers
type, seq, length and payload. Inside the body the bytes START (0xC0), END
(0xC1) and ESC (0xDB) are sent as ESC followed by the byte XOR 0x20, so START
and END never occur inside a frame and a receiver always finds the next frame
boundary after garbage (the STX/ETX scheme of Ncode-style pens, with SLIP's
high byte values, which are rare in little-endian coordinates and times, so
that few frames need escaping).

:class:`FrameDecoder` is fed arbitrary chunks of bytes and returns, in stream
order, every :class:`Frame` it could check plus a typed event for everything
else: :class:`Garbage` (bytes outside any frame) and :class:`CorruptFrame`
(a frame that fails a check, with the reason and the raw bytes). It never
drops input silently: every byte fed ends up in exactly one event, or in the
buffer awaiting the rest of its frame.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import ClassVar

STX = 0xC0  # start of frame
ETX = 0xC1  # end of frame
ESC = 0xDB
ESCAPE_XOR = 0x20

HEADER = struct.Struct("<BHH")
CRC = struct.Struct("<I")
OVERHEAD = HEADER.size + CRC.size
MAX_PAYLOAD = 0xFFFF
#: Longest body on the wire: every byte escaped.
MAX_ESCAPED_BODY = 2 * (MAX_PAYLOAD + OVERHEAD)
#: CRC-32 of any message followed by its own little-endian CRC-32.
CRC_RESIDUE = 0x2144DF1C

_STX_B = bytes([STX])
_ETX_B = bytes([ETX])
_ESC_B = bytes([ESC])
_ESC_STX = bytes([ESC, STX ^ ESCAPE_XOR])
_ESC_ETX = bytes([ESC, ETX ^ ESCAPE_XOR])
_ESC_ESC = bytes([ESC, ESC ^ ESCAPE_XOR])


class CorruptReason:
    """Why a frame was rejected; stable strings stored with the rejection."""

    TRUNCATED = "truncated"  # a new STX arrived before this frame's ETX
    TOO_LONG = "too-long"  # no ETX within the longest possible frame
    BAD_ESCAPE = "bad-escape"  # ESC followed by a byte that is never escaped
    TOO_SHORT = "too-short"  # fewer bytes than a header and a CRC
    LENGTH_MISMATCH = "length-mismatch"  # header length differs from the payload received
    CRC_MISMATCH = "crc-mismatch"


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame whose length and CRC checked out."""

    type: int
    seq: int
    payload: bytes
    offset: int
    """Stream offset of the frame's STX byte."""


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes found outside any frame (line noise, a partial frame after a re-plug)."""

    code: ClassVar[str] = "WIRE.101"
    data: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class CorruptFrame:
    """A frame that failed a check; ``data`` is exactly the bytes received, STX included."""

    code: ClassVar[str] = "WIRE.102"
    data: bytes
    offset: int
    reason: str


FrameEvent = Frame | Garbage | CorruptFrame
#: A good frame in the fast path: (type, seq, payload, offset).
RawFrame = tuple[int, int, bytes, int]


def escape(body: bytes) -> bytes:
    """Escape STX, ETX and ESC inside a frame body."""
    if STX in body or ETX in body or ESC in body:
        # ESC first: the later replacements add ESC bytes that must stay as they are.
        body = body.replace(_ESC_B, _ESC_ESC).replace(_STX_B, _ESC_STX).replace(_ETX_B, _ESC_ETX)
    return body


def unescape(body: bytes) -> bytes | None:
    """Undo :func:`escape`; ``None`` if an ESC is not followed by an escaped byte."""
    n_esc = body.count(_ESC_B)
    if n_esc != body.count(_ESC_STX) + body.count(_ESC_ETX) + body.count(_ESC_ESC):
        return None
    # Every ESC starts a valid pair, so pairs cannot overlap; ESC-ESC last so that
    # the ESC it produces is not read again as the start of a pair.
    return body.replace(_ESC_STX, _STX_B).replace(_ESC_ETX, _ETX_B).replace(_ESC_ESC, _ESC_B)


def encode_frame(frame_type: int, seq: int, payload: bytes) -> bytes:
    """The bytes on the wire for one frame."""
    if not 0 <= frame_type <= 0xFF:
        raise ValueError(f"frame type {frame_type} does not fit in a byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = HEADER.pack(frame_type, seq & 0xFFFF, len(payload)) + payload
    body += CRC.pack(zlib.crc32(body))
    return _STX_B + escape(body) + _ETX_B


class FrameDecoder:
    """Incremental frame decoder: feed it bytes, get frames and anomalies in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of self._buf[0]
        # While waiting for the end of a frame, the buffer before this index is known
        # to hold no START or END after the first byte: searching resumes here.
        self._scanned = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the end of a frame."""
        return len(self._buf)

    @property
    def offset(self) -> int:
        """Stream offset of the next byte not yet turned into an event."""
        return self._base

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Decode what ``data`` completes; keep an unfinished frame for the next call."""
        return [Frame(*ev) if isinstance(ev, tuple) else ev for ev in self.feed_raw(data)]

    def feed_raw(self, data: bytes) -> list[RawFrame | Garbage | CorruptFrame]:
        """As :meth:`feed`, with good frames as plain ``(type, seq, payload, offset)`` tuples.

        This is the hot path of the whole protocol: one pass of C-level ``find``
        calls over the buffer, no per-frame function calls.
        """
        buf = self._buf
        buf += data
        base = self._base
        out: list[RawFrame | Garbage | CorruptFrame] = []
        append = out.append
        find = buf.find
        crc32 = zlib.crc32
        unpack_header = HEADER.unpack_from
        n = len(buf)
        pos = 0
        stx = find(STX, 0)
        scanned = self._scanned
        self._scanned = 0
        while pos < n:
            if stx < 0:
                append(Garbage(bytes(buf[pos:]), base + pos))
                pos = n
                break
            if stx > pos:
                append(Garbage(bytes(buf[pos:stx]), base + pos))
            lo = stx + 1
            if scanned > lo:
                lo = scanned
            scanned = 0
            etx = find(ETX, lo)
            nxt = find(STX, lo)
            if nxt >= 0 and (nxt < etx or etx < 0):
                append(CorruptFrame(bytes(buf[stx:nxt]), base + stx, CorruptReason.TRUNCATED))
                pos = stx = nxt
                continue
            if etx < 0:
                if n - stx > MAX_ESCAPED_BODY + 1:
                    append(CorruptFrame(bytes(buf[stx:]), base + stx, CorruptReason.TOO_LONG))
                    pos = n
                else:
                    pos = stx
                    self._scanned = n - stx
                break
            pos = etx + 1
            body: bytes | None = bytes(buf[stx + 1 : etx])
            frame_start = stx
            stx = nxt
            reason = ""
            if ESC in body:  # type: ignore[operator]
                body = unescape(body)  # type: ignore[arg-type]
                if body is None:
                    reason = CorruptReason.BAD_ESCAPE
            if body is not None:
                size = len(body)
                if size < OVERHEAD:
                    reason = CorruptReason.TOO_SHORT
                else:
                    frame_type, seq, length = unpack_header(body)
                    if length != size - OVERHEAD:
                        reason = CorruptReason.LENGTH_MISMATCH
                    elif crc32(body) != CRC_RESIDUE:
                        reason = CorruptReason.CRC_MISMATCH
                    else:
                        append((frame_type, seq, body[5 : size - 4], base + frame_start))
                        continue
            append(CorruptFrame(bytes(buf[frame_start:pos]), base + frame_start, reason))
        if pos:
            del buf[:pos]
            self._base = base + pos
        return out

    def flush(self) -> list[CorruptFrame]:
        """End of stream: whatever is still buffered is reported as a truncated frame."""
        if not self._buf:
            return []
        self._scanned = 0
        event = CorruptFrame(bytes(self._buf), self._base, CorruptReason.TRUNCATED)
        self._base += len(self._buf)
        self._buf.clear()
        return [event]
