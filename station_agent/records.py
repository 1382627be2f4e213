"""From wire events to journal records: pure conversion, keys and plain details, no I/O.

Each record's ``key`` is what makes journaling idempotent:

- a message read live: ``live:<pen session>:<seq>:<crc>`` (the pen session is
  the pen serial and the pen clock in its hello: unique per connection);
- an event decoded from an offline batch:
  ``batch:<serial>:<batch id>:<batch crc>:<n>`` (n: position in the batch's
  decoded events; the same batch re-offered gives the same keys);
- an anomaly of the line or a decision of the agent:
  ``<source>:<connection>:<stream offset>:<kind>[:<n>]``.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any

from pen.ink import Stroke
from pen.wire import (
    InkAssembler,
    Message,
    OrphanMessage,
    Received,
    StreamDecoder,
    StrokeIncomplete,
    WireEvent,
    encode_message,
)
from station_agent.journal import EventRecord

_HEAD = struct.Struct("<BHH")


def frame_crc(message: Message, seq: int) -> int:
    """The CRC-32 the frame carried (type|seq|length|payload)."""
    payload = message.payload()
    return zlib.crc32(_HEAD.pack(message.TYPE, seq, len(payload)) + payload)


def detail_json(obj: object, **extra: Any) -> str:
    """The scalar fields of a dataclass as JSON (bytes are stored apart, as evidence)."""
    out: dict[str, Any] = {}
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, bool | int | float | str) or value is None:
                out[f.name] = value
            elif isinstance(value, bytes | bytearray):
                out[f"{f.name}_len"] = len(value)
            elif isinstance(value, Message):
                out[f.name] = type(value).__name__
    out.update(extra)
    return json.dumps(out, sort_keys=True)


def evidence(event: object) -> bytes:
    """The bytes an anomaly carries (what was received), or none."""
    for name in ("data", "payload"):
        value = getattr(event, name, None)
        if isinstance(value, bytes):
            return value
    message = getattr(event, "message", None)
    if isinstance(message, Message):
        return message.payload()
    return b""


@dataclasses.dataclass(slots=True)
class PenContext:
    """Who is on the line, as far as the last hello said."""

    pen_serial: str = ""
    pen_session: str = ""
    flagged: bool = False


def message_record(
    received: Received, ctx: PenContext, key: str, source: str = "live"
) -> EventRecord:
    msg = received.message
    return EventRecord(
        key=key,
        source=source,
        kind=type(msg).__name__,
        pen_serial=ctx.pen_serial,
        pen_session=ctx.pen_session,
        seq=received.seq,
        frame=encode_message(msg, received.seq),
        detail=detail_json(msg),
        flagged=ctx.flagged,
    )


def anomaly_record(
    event: object, ctx: PenContext, key: str, source: str = "live", **extra: Any
) -> EventRecord:
    code = str(getattr(event, "code", "AGENT.000"))
    return EventRecord(
        key=key,
        source=source,
        kind=type(event).__name__,
        pen_serial=ctx.pen_serial,
        pen_session=ctx.pen_session,
        code=code,
        seq=getattr(event, "seq", None),
        frame=evidence(event),
        detail=detail_json(event, **extra),
        flagged=ctx.flagged,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class AgentNote:
    """A decision or observation of the agent, journaled like a pen event."""

    kind: str
    code: str
    """Empty for plain facts (``ClockSet``), a stable code for warnings."""
    detail: dict[str, Any]


def note_record(note: AgentNote, ctx: PenContext, key: str) -> EventRecord:
    return EventRecord(
        key=key,
        source="agent",
        kind=note.kind,
        pen_serial=ctx.pen_serial,
        pen_session=ctx.pen_session,
        code=note.code,
        detail=json.dumps(note.detail, sort_keys=True),
        flagged=ctx.flagged,
    )


def batch_records(
    data: bytes, pen_serial: str, batch_id: int, crc32: int, flagged: bool
) -> tuple[list[EventRecord], list[Stroke]]:
    """Every event of an offline batch (messages, line and ink anomalies) and its strokes."""
    decoder = StreamDecoder()
    assembler = InkAssembler(pen_serial)
    ctx = PenContext(pen_serial, f"{pen_serial}#batch{batch_id}", flagged)
    records: list[EventRecord] = []
    strokes: list[Stroke] = []
    prefix = f"batch:{pen_serial}:{batch_id}:{crc32:08x}"

    def keep_ink(items: Sequence[object]) -> None:
        for item in items:
            if isinstance(item, Stroke):
                strokes.append(item)
            else:
                records.append(anomaly_record(item, ctx, f"{prefix}:{len(records)}", "batch"))

    events: list[WireEvent] = [*decoder.feed(data), *decoder.flush()]
    for event in events:
        key = f"{prefix}:{len(records)}"
        if isinstance(event, Received):
            records.append(message_record(event, ctx, key, "batch"))
            keep_ink(assembler.feed((event.message,)))
        else:
            records.append(anomaly_record(event, ctx, key, "batch"))
    keep_ink(assembler.finish())
    return records, strokes


def is_ink_anomaly(item: object) -> bool:
    return isinstance(item, StrokeIncomplete | OrphanMessage)
