"""A simulated station's day as the signed batches its agent would upload, for pipeline tests.

Each pen session's bytes (``StationDay.sessions``) are split into frames the
way the station agent journals them (one event per message, its frame
re-encoded exactly, with the agent's summary keys), then cut into signed,
hash-chained batches and stored through ingest's real intake.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from hardware_sim.day import StationDay
from ingest.stations import enrol, receive_batch
from pen.batches import (
    GENESIS_HASH,
    BatchEvent,
    JsonValue,
    batch_hash,
    encode_batch,
    make_batch,
    public_key_bytes,
    sign_batch,
)
from pen.wire import Hello, Received, decode_stream, encode_message


def session_events(data: bytes, *, first_id: int = 1, source: str = "live") -> list[BatchEvent]:
    """The journaled events of one pen session's bytes (messages only)."""
    out: list[BatchEvent] = []
    serial, session = "", "conn1"
    for event in decode_stream(data):
        if not isinstance(event, Received):
            continue
        msg = event.message
        if isinstance(msg, Hello):
            serial, session = msg.serial, f"{msg.serial}@{msg.pen_clock_ms}"
        summary: dict[str, JsonValue] = {
            "id": first_id + len(out),
            "key": f"{source}:{session}:{event.seq}:{len(out)}",
            "source": source,
            "kind": type(msg).__name__,
            "code": "",
            "pen_serial": serial,
            "pen_session": session,
            "seq": event.seq,
            "detail": "{}",
            "flagged": False,
            "recorded_ms": 0,
        }
        out.append(BatchEvent(encode_message(msg, event.seq), summary))
    return out


def close_event(event_id: int) -> BatchEvent:
    """The agent's note that the president closed the station."""
    summary: dict[str, JsonValue] = {
        "id": event_id,
        "key": f"agent:close:{event_id}",
        "source": "agent",
        "kind": "StationClosed",
        "code": "",
        "pen_serial": "",
        "pen_session": "",
        "seq": None,
        "detail": json.dumps({"closed": True}),
        "flagged": False,
        "recorded_ms": 0,
    }
    return BatchEvent(b"", summary)


def day_events(day: StationDay, *, close: bool = True) -> list[BatchEvent]:
    """Every pen's session, one after the other, then (optionally) the closing note."""
    events: list[BatchEvent] = []
    for data in day.sessions.values():
        events += session_events(data, first_id=len(events) + 1)
    if close:
        events.append(close_event(len(events) + 1))
    return events


def signed_bodies(
    station_id: str,
    key: Ed25519PrivateKey,
    events: Sequence[BatchEvent],
    *,
    per_batch: int = 500,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
) -> list[bytes]:
    """The events cut into signed, chained batch bodies of at most ``per_batch`` events."""
    bodies: list[bytes] = []
    seq, prev = first_seq, prev_hash
    for start in range(0, len(events), per_batch):
        chunk = events[start : start + per_batch]
        batch = sign_batch(make_batch(station_id, seq, prev, chunk, 1_700_000_000_000), key)
        bodies.append(encode_batch(batch))
        seq, prev = seq + 1, batch_hash(batch)
    return bodies


def enrol_station(engine: Engine, station_id: str, code: str) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    enrol(engine, station_id, code, base64.b64encode(public_key_bytes(key)).decode())
    return key


def upload(engine: Engine, station_id: str, bodies: Sequence[bytes]) -> None:
    """Store the bodies through ingest's real intake (verification, chain, storage)."""
    for body in bodies:
        ack = receive_batch(engine, station_id, body)
        assert ack.status == "accepted", ack
