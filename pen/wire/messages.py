"""Messages of the pen wire protocol: typed values and their payload encodings.

Each message class has a one-byte ``TYPE`` and converts to and from the
payload bytes of a frame (see :mod:`pen.wire.framing`). Pen-to-host types are
below 0x80, host-to-pen types from 0x80. All integers are little-endian.
The byte layouts are written up in docs/pen-protocol.md; this module is the
reference implementation.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from pen.errors import WireError
from pen.wire.framing import ETX, MAX_PAYLOAD, STX

PROTOCOL_VERSION = 2
"""The newest protocol version this implementation speaks (docs/pen-protocol.md)."""
SUPPORTED_VERSIONS = (1, 2)
"""Every version this implementation speaks; a host answers a pen in the pen's version."""
LIVE_ACK_VERSION = 2
"""From this version on, the host acknowledges live frames and the pen re-sends them."""

#: One dot on the wire (10 bytes): ms since the previous dot of the stroke (0
#: for the first), integer and 1/``fraction_den`` parts of x and y in device
#: units, raw force (0..``force_max``).
DOT_DTYPE = np.dtype(
    [
        ("dt", "<u2"),
        ("x", "<u2"),
        ("xf", "u1"),
        ("y", "<u2"),
        ("yf", "u1"),
        ("force", "<u2"),
    ]
)
MAX_DOTS_PER_FRAME = 255

DotArray = npt.NDArray[np.void]


class ShutdownReason(enum.IntEnum):
    USER = 0
    LOW_BATTERY = 1
    IDLE = 2
    MEMORY_FULL = 3
    FAULT = 4


class NakReason(enum.IntEnum):
    CRC = 1
    MISSING = 2
    NO_SPACE = 3
    UNKNOWN_BATCH = 4


def _str(value: str, what: str) -> bytes:
    data = value.encode("utf-8")
    if len(data) > 255:
        raise WireError(f"{what} is {len(data)} bytes in UTF-8; at most 255 fit in a frame")
    return bytes([len(data)]) + data


def _read_str(payload: bytes, pos: int, what: str) -> tuple[str, int]:
    if pos >= len(payload):
        raise WireError(f"{what}: payload ends before the string length byte")
    size = payload[pos]
    end = pos + 1 + size
    if end > len(payload):
        raise WireError(f"{what}: string of {size} bytes runs past the payload end")
    try:
        return payload[pos + 1 : end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise WireError(f"{what}: string is not valid UTF-8 ({exc.reason})") from None


class Message:
    """Base of every message; subclasses are frozen dataclasses with a ``TYPE``."""

    TYPE: ClassVar[int]

    def payload(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        raise NotImplementedError


class _Fixed(Message):
    """A message made of fixed-size fields, described by a struct format."""

    FORMAT: ClassVar[struct.Struct]

    def payload(self) -> bytes:
        values = [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        try:
            return self.FORMAT.pack(*values)
        except struct.error as exc:
            raise WireError(f"cannot encode {self!r}: {exc}") from None

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        return cls(*cls._unpack(payload))

    @classmethod
    def _unpack(cls, payload: bytes) -> tuple[int, ...]:
        if len(payload) != cls.FORMAT.size:
            raise WireError(
                f"{cls.__name__} payload is {len(payload)} bytes; expected {cls.FORMAT.size}"
            )
        return cls.FORMAT.unpack(payload)


# --- pen to host -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello(Message):
    """First message after connecting: who the pen is and how to read its numbers."""

    TYPE: ClassVar[int] = 0x01
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<BQIHHH")

    protocol_version: int
    pen_clock_ms: int
    unit_nm: int
    """Length of one device coordinate unit in nanometres (Anoto: 37,500)."""
    fraction_den: int
    """Denominator of the coordinate fraction bytes (Ncode: 100; 1 if none)."""
    force_max: int
    sample_rate_hz: int
    serial: str
    model: str
    firmware: str

    def payload(self) -> bytes:
        try:
            head = self._HEAD.pack(
                self.protocol_version,
                self.pen_clock_ms,
                self.unit_nm,
                self.fraction_den,
                self.force_max,
                self.sample_rate_hz,
            )
        except struct.error as exc:
            raise WireError(f"cannot encode {self!r}: {exc}") from None
        return (
            head
            + _str(self.serial, "pen serial")
            + _str(self.model, "pen model")
            + _str(self.firmware, "firmware")
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        if len(payload) < cls._HEAD.size + 3:
            raise WireError(f"Hello payload is {len(payload)} bytes; too short")
        version, clock, unit, den, fmax, rate = cls._HEAD.unpack_from(payload)
        pos = cls._HEAD.size
        serial, pos = _read_str(payload, pos, "Hello serial")
        model, pos = _read_str(payload, pos, "Hello model")
        firmware, pos = _read_str(payload, pos, "Hello firmware")
        if pos != len(payload):
            raise WireError(f"Hello payload has {len(payload) - pos} trailing bytes")
        if den == 0 or fmax == 0 or unit == 0:
            raise WireError("Hello declares a zero unit, fraction denominator or force maximum")
        return cls(version, clock, unit, den, fmax, rate, serial, model, firmware)

    @property
    def unit_mm(self) -> float:
        return self.unit_nm / 1e6


@dataclass(frozen=True, slots=True)
class PenDown(_Fixed):
    TYPE: ClassVar[int] = 0x10
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<QI")

    t_ms: int
    stroke_no: int
    """Counts strokes since power-on, so the host sees a lost pen-down."""


@dataclass(frozen=True, slots=True)
class Page(_Fixed):
    """The page under the pen, sent after pen-down once the pattern is decoded."""

    TYPE: ClassVar[int] = 0x11
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<IHHH")

    segment: int
    shelf: int
    book: int
    page: int


@dataclass(frozen=True, slots=True)
class Dots(Message):
    """1 to 255 consecutive dots of the current stroke.

    ``first_index`` is the position of the first dot in its stroke and
    ``t_offset_ms`` its time since the pen-down, so that after a lost frame
    the host still places later dots in time and knows which dots are
    missing. Each dot's ``dt`` counts from the stroke's previous dot, so a
    host that lost nothing simply adds them up. The dot records are kept as bytes
    (``records``); :attr:`dots` views them as a :data:`DOT_DTYPE` array.
    Keeping bytes lets the host join a stroke's records and convert them in
    one numpy call.
    """

    TYPE: ClassVar[int] = 0x12
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<IIB")

    first_index: int
    t_offset_ms: int
    records: bytes = field(repr=False)

    def __post_init__(self) -> None:
        count, rest = divmod(len(self.records), DOT_DTYPE.itemsize)
        if rest or not 1 <= count <= MAX_DOTS_PER_FRAME:
            raise WireError(
                f"a Dots message holds 1..{MAX_DOTS_PER_FRAME} records of "
                f"{DOT_DTYPE.itemsize} bytes; got {len(self.records)} bytes"
            )

    @classmethod
    def of(cls, dots: DotArray, first_index: int = 0, t_offset_ms: int = 0) -> Dots:
        """Build from a structured array (converted to :data:`DOT_DTYPE`)."""
        records = np.ascontiguousarray(dots, dtype=DOT_DTYPE).tobytes()
        return cls(first_index, t_offset_ms, records)

    @property
    def dots(self) -> DotArray:
        return np.frombuffer(self.records, dtype=DOT_DTYPE)

    def payload(self) -> bytes:
        count = len(self.records) // DOT_DTYPE.itemsize
        try:
            return self._HEAD.pack(self.first_index, self.t_offset_ms, count) + self.records
        except struct.error as exc:
            raise WireError(f"cannot encode Dots: {exc}") from None

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        head = cls._HEAD.size
        if len(payload) < head:
            raise WireError(f"Dots payload is {len(payload)} bytes; too short")
        first_index, t_offset, count = cls._HEAD.unpack_from(payload)
        if count == 0 or len(payload) != head + count * DOT_DTYPE.itemsize:
            raise WireError(
                f"Dots payload is {len(payload)} bytes for {count} dots; "
                f"expected {head + count * DOT_DTYPE.itemsize}"
            )
        # Hot path: the length is checked above, so skip __post_init__.
        msg = object.__new__(cls)
        object.__setattr__(msg, "first_index", first_index)
        object.__setattr__(msg, "t_offset_ms", t_offset)
        object.__setattr__(msg, "records", payload[head:])
        return msg

    def __len__(self) -> int:
        return len(self.records) // DOT_DTYPE.itemsize


@dataclass(frozen=True, slots=True)
class PenUp(_Fixed):
    TYPE: ClassVar[int] = 0x13
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<QII")

    t_ms: int
    stroke_no: int
    dot_count: int
    """Dots the pen sent for this stroke, so the host can tell if any went missing."""


@dataclass(frozen=True, slots=True)
class DecodeError(_Fixed):
    """The camera saw the paper but could not decode the dot pattern."""

    TYPE: ClassVar[int] = 0x14
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<QH")

    t_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class LostPoints(_Fixed):
    """The pen dropped samples (buffer overrun, fast movement)."""

    TYPE: ClassVar[int] = 0x15
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<QH")

    t_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class Status(_Fixed):
    TYPE: ClassVar[int] = 0x20
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<BBIIH")

    battery_pct: int
    charging: int
    memory_used: int
    memory_total: int
    offline_batches: int


@dataclass(frozen=True, slots=True)
class Shutdown(_Fixed):
    TYPE: ClassVar[int] = 0x21
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<B")

    reason: int

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        (reason,) = cls._unpack(payload)
        if reason not in ShutdownReason._value2member_map_:
            raise WireError(f"Shutdown reason {reason} is not a known reason")
        return cls(reason)


@dataclass(frozen=True, slots=True)
class BatchBegin(_Fixed):
    """Start of an offline batch: strokes stored while no host was connected."""

    TYPE: ClassVar[int] = 0x30
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<IIII")

    batch_id: int
    n_chunks: int
    total_bytes: int
    crc32: int
    """CRC-32 of the whole batch data (all chunks concatenated)."""


@dataclass(frozen=True, slots=True)
class BatchChunk(Message):
    """One numbered piece of a batch; the batch data is itself a stream of frames."""

    TYPE: ClassVar[int] = 0x31
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<II")

    batch_id: int
    index: int
    data: bytes = field(repr=False)

    def payload(self) -> bytes:
        try:
            return self._HEAD.pack(self.batch_id, self.index) + self.data
        except struct.error as exc:
            where = f"{self.batch_id}/{self.index}"
            raise WireError(f"cannot encode BatchChunk {where}: {exc}") from None

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        if len(payload) < cls._HEAD.size:
            raise WireError(f"BatchChunk payload is {len(payload)} bytes; too short")
        batch_id, index = cls._HEAD.unpack_from(payload)
        return cls(batch_id, index, payload[cls._HEAD.size :])


@dataclass(frozen=True, slots=True)
class BatchEnd(_Fixed):
    TYPE: ClassVar[int] = 0x32
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<I")

    batch_id: int


@dataclass(frozen=True, slots=True)
class BatchDeleted(_Fixed):
    """The pen has erased a batch, after the host committed it."""

    TYPE: ClassVar[int] = 0x33
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<I")

    batch_id: int


_SESSION = struct.Struct("<Q")
MAX_RESENT_FRAME = MAX_PAYLOAD - _SESSION.size
"""The longest frame (on the wire, escaped) a :class:`Resent` can carry."""


@dataclass(frozen=True, slots=True)
class Resent(Message):
    """A frame sent again, byte for byte, in the pen session it was first sent in (v2).

    ``frame`` is the exact bytes of the original frame on the wire (START to END,
    escaped), so its sequence number and CRC are the original ones; ``session_ms`` is
    the ``pen_clock_ms`` of the hello that opened that session. A ``Resent`` frame is
    *unsequenced*: it carries seq 0, does not advance the pen's frame counter and takes
    no part in sequence tracking (:class:`~pen.wire.stream.StreamDecoder`), so a lost
    ``Resent`` leaves no hole: what it carried is still held by the pen.
    """

    TYPE: ClassVar[int] = 0x40

    session_ms: int
    frame: bytes = field(repr=False)

    def payload(self) -> bytes:
        if len(self.frame) > MAX_RESENT_FRAME:
            raise WireError(
                f"a frame of {len(self.frame)} bytes cannot be re-sent; at most "
                f"{MAX_RESENT_FRAME} fit in a Resent"
            )
        try:
            return _SESSION.pack(self.session_ms) + self.frame
        except struct.error as exc:
            raise WireError(f"cannot encode Resent: {exc}") from None

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        frame = payload[_SESSION.size :]
        if len(frame) < 2 or frame[0] != STX or frame[-1] != ETX:
            raise WireError(
                f"Resent payload of {len(payload)} bytes does not hold a session and a frame"
            )
        (session_ms,) = _SESSION.unpack_from(payload)
        return cls(session_ms, frame)


# --- host to pen -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HelloAck(Message):
    """The answer to a hello. From v2, the answer to a v2 hello names it (``session_ms``:
    its ``pen_clock_ms``), so that a pen never takes the answer to an older hello (one
    left unread on the line by a host that died) for the answer to its own."""

    TYPE: ClassVar[int] = 0x81
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<BB")

    protocol_version: int
    accepted: int
    session_ms: int | None = None

    def payload(self) -> bytes:
        try:
            head = self._HEAD.pack(self.protocol_version, self.accepted)
            return head if self.session_ms is None else head + _SESSION.pack(self.session_ms)
        except struct.error as exc:
            raise WireError(f"cannot encode {self!r}: {exc}") from None

    @classmethod
    def accepting(cls, hello: Hello) -> Self:
        """The acceptance of ``hello``, in the pen's own version (a v1 pen hears the two-byte
        v1 answer; from v2 the answer names the hello it answers)."""
        v2 = hello.protocol_version >= LIVE_ACK_VERSION
        return cls(hello.protocol_version, 1, hello.pen_clock_ms if v2 else None)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        if len(payload) not in (cls._HEAD.size, cls._HEAD.size + _SESSION.size):
            raise WireError(f"HelloAck payload is {len(payload)} bytes; expected 2 or 10")
        version, accepted = cls._HEAD.unpack_from(payload)
        session = _SESSION.unpack_from(payload, 2)[0] if len(payload) > 2 else None
        return cls(version, accepted, session)


@dataclass(frozen=True, slots=True)
class SetTime(_Fixed):
    TYPE: ClassVar[int] = 0x82
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<Q")

    t_ms: int


@dataclass(frozen=True, slots=True)
class Ack(_Fixed):
    """The host holds chunk ``index`` of ``batch_id`` (not yet durably: see BatchCommit)."""

    TYPE: ClassVar[int] = 0x83
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<II")

    batch_id: int
    index: int


@dataclass(frozen=True, slots=True)
class Nak(_Fixed):
    TYPE: ClassVar[int] = 0x84
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<IIB")

    batch_id: int
    index: int
    reason: int


@dataclass(frozen=True, slots=True)
class BatchCommit(_Fixed):
    """The host has written the whole batch durably; only now may the pen delete it."""

    TYPE: ClassVar[int] = 0x85
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<I")

    batch_id: int


@dataclass(frozen=True, slots=True)
class RequestStatus(_Fixed):
    TYPE: ClassVar[int] = 0x86
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<")


@dataclass(frozen=True, slots=True)
class RequestBatches(_Fixed):
    """Ask the pen to send its stored offline batches."""

    TYPE: ClassVar[int] = 0x87
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<")


@dataclass(frozen=True, slots=True)
class LiveAck(_Fixed):
    """Every frame of pen session ``session_ms``, from its hello up to and including
    ``up_to_seq``, is durably stored (v2): the pen may forget them. Cumulative."""

    TYPE: ClassVar[int] = 0x88
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<QH")

    session_ms: int
    """The ``pen_clock_ms`` of the hello that opened the session."""
    up_to_seq: int


@dataclass(frozen=True, slots=True)
class LiveResend(_Fixed):
    """Send again (as :class:`Resent`) every frame of session ``session_ms`` still held (v2):
    the host is missing one."""

    TYPE: ClassVar[int] = 0x89
    FORMAT: ClassVar[struct.Struct] = struct.Struct("<Q")

    session_ms: int


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        PenDown,
        Page,
        Dots,
        PenUp,
        DecodeError,
        LostPoints,
        Status,
        Shutdown,
        BatchBegin,
        BatchChunk,
        BatchEnd,
        BatchDeleted,
        Resent,
        HelloAck,
        SetTime,
        Ack,
        Nak,
        BatchCommit,
        RequestStatus,
        RequestBatches,
        LiveAck,
        LiveResend,
    )
}


def decode_message(frame_type: int, payload: bytes) -> Message:
    """Turn a frame's type and payload into a message; :class:`WireError` if it cannot."""
    cls = MESSAGE_TYPES.get(frame_type)
    if cls is None:
        raise WireError(f"unknown frame type 0x{frame_type:02x}")
    try:
        return cls.from_payload(payload)
    except struct.error as exc:  # pragma: no cover - lengths are checked first
        raise WireError(f"{cls.__name__}: {exc}") from None
