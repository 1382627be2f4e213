"""Station kits, enrolment and batch intake: the rules, over a SQLAlchemy engine.

The batch rules themselves live in :mod:`pen.batches` (format, signature, chain);
this module adapts them to storage. A refused batch raises :class:`Refused`,
which the API stores as a :class:`~ingest.db.Rejection` and answers as one error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from ingest.db import Rejection, Station, StoredBatch, session
from ingest.errors import ApiError
from pen.batches import (
    STATION_ID_RE,
    BadSignatureError,
    Batch,
    ChainHead,
    MalformedBatchError,
    UnknownBatchFormatError,
    Verdict,
    batch_hash,
    check_chain,
    parse_batch,
    verify_batch,
)

log = structlog.get_logger(__name__)

_CHAIN_REASONS = {Verdict.GAP: "gap", Verdict.FORK: "fork", Verdict.REPLAY: "replay"}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def new_enrolment_code() -> str:
    """A one-time code for a kit: 20 characters of base32 (100 bits), grouped by 5."""
    raw = base64.b32encode(secrets.token_bytes(15)).decode("ascii")
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def create_kits(engine: Engine, station_ids: Iterable[str]) -> dict[str, str]:
    """Register stations and return each one's one-time code (shown once, stored hashed)."""
    codes: dict[str, str] = {}
    with session(engine) as s, s.begin():
        for sid in station_ids:
            if not STATION_ID_RE.fullmatch(sid):
                raise ValueError(f"station id {sid!r} is not 1-64 letters, digits, '.', '_', '-'")
            codes[sid] = new_enrolment_code()
            s.add(Station(station_id=sid, enrol_code_hash=hash_code(codes[sid])))
    return codes


@dataclass(frozen=True)
class Enrolled:
    station_id: str
    public_key: bytes
    enrolled_at_ms: int
    created: bool
    """False when this was a retry with the same code and key."""


def enrol(engine: Engine, station_id: str, code: str, public_key_b64: str) -> Enrolled:
    """Register the station's Ed25519 public key with its one-time code."""
    try:
        key = base64.b64decode(public_key_b64, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ApiError(
            422, "ENROL.422", "public_key must be the base64 of a raw 32-byte Ed25519 key"
        )
    with session(engine) as s, s.begin():
        station = s.get(Station, station_id, with_for_update=True)
        if station is None:
            raise ApiError(
                404, "ENROL.404", f"station {station_id} is not in any kit; check the id"
            )
        if not hmac.compare_digest(station.enrol_code_hash, hash_code(code)):
            raise ApiError(403, "ENROL.403", "wrong enrolment code; type it again from the kit")
        if station.public_key is not None:
            if hmac.compare_digest(station.public_key, key):
                assert station.enrolled_at_ms is not None
                return Enrolled(station_id, key, station.enrolled_at_ms, created=False)
            raise ApiError(
                409,
                "ENROL.409",
                f"station {station_id} is already enrolled with another key; the code works "
                "once: ask the centre for a new kit",
            )
        station.public_key = key
        station.enrolled_at_ms = _now_ms()
        log.info("station.enrolled", station_id=station_id)
        return Enrolled(station_id, key, station.enrolled_at_ms, created=True)


class Refused(ApiError):
    """A refused batch, with the reason stored alongside it."""

    def __init__(
        self,
        status: int,
        code: str,
        reason: str,
        message: str,
        seq: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, code, message, {"reason": reason, "seq": seq, **(details or {})})
        self.reason = reason
        self.seq = seq


@dataclass(frozen=True)
class Ack:
    station_id: str
    seq: int
    hash: str
    status: str
    """``accepted`` (stored now) or ``duplicate`` (stored before)."""
    head_seq: int
    events: int = 0
    """Pen events stored by this request (0 for a duplicate); for the metrics, not the reply."""


def receive_batch(engine: Engine, station_id: str, body: bytes) -> Ack:
    """Parse, verify, chain-check and store one batch; raise :class:`Refused` otherwise."""
    try:
        batch = parse_batch(body)
    except (UnknownBatchFormatError, MalformedBatchError) as exc:
        reason = "unknown_format" if isinstance(exc, UnknownBatchFormatError) else "malformed"
        raise Refused(422, exc.code, reason, exc.message, exc.seq) from None
    seq = batch.seq
    if batch.station_id != station_id:
        msg = f"the batch is from station {batch.station_id}, sent to station {station_id}'s URL"
        raise Refused(422, "PEN.601", "wrong_station", msg, seq)
    with session(engine) as s:
        key = s.scalar(select(Station.public_key).where(Station.station_id == station_id))
    if key is None:
        msg = f"station {station_id} is unknown or not enrolled; enrol it with its kit code first"
        raise Refused(404, "STATION.404", "not_enrolled", msg, seq)
    try:
        verify_batch(batch, key)
    except BadSignatureError as exc:
        raise Refused(403, exc.code, "bad_signature", exc.message, seq) from None
    for attempt in range(3):
        try:
            return _store(engine, batch, body)
        except IntegrityError:  # a concurrent request stored this seq first: look again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(engine: Engine, batch: Batch, body: bytes) -> Ack:
    sid, seq, h = batch.station_id, batch.seq, batch_hash(batch)
    with session(engine) as s, s.begin():
        station = s.get(Station, sid, with_for_update=True)
        assert station is not None
        head = ChainHead(station.head_seq, station.head_hash) if station.head_seq else None

        def hash_at(n: int) -> str | None:
            q = select(StoredBatch.hash).where(StoredBatch.station_id == sid, StoredBatch.seq == n)
            return s.scalar(q)

        verdict = check_chain(batch, head, hash_at)
        if verdict.verdict is Verdict.DUPLICATE:
            return Ack(sid, seq, h, "duplicate", station.head_seq)
        if verdict.verdict is not Verdict.ACCEPTED:
            details = {"expected_seq": verdict.expected_seq, "hash": h}
            if verdict.verdict is Verdict.REPLAY:
                details["stored_hash"] = hash_at(seq)
            reason = _CHAIN_REASONS[verdict.verdict]
            raise Refused(409, verdict.code, reason, verdict.message, seq, details)
        s.add(
            StoredBatch(
                station_id=sid,
                seq=seq,
                hash=h,
                prev_hash=batch.prev_hash,
                format_version=batch.format_version,
                created_ms=batch.created_ms,
                event_count=len(batch.events),
                received_at_ms=_now_ms(),
                body=body,
            )
        )
        station.head_seq, station.head_hash = seq, h
    log.info("batch.accepted", station_id=sid, batch_seq=seq, events=len(batch.events))
    return Ack(sid, seq, h, "accepted", seq, len(batch.events))


def store_rejection(engine: Engine, station_id: str, body: bytes, refused: ApiError) -> None:
    """Keep a refused batch as evidence: who, which seq, why, and the body."""
    reason = refused.reason if isinstance(refused, Refused) else "refused"
    seq = refused.seq if isinstance(refused, Refused) else None
    with session(engine) as s, s.begin():
        s.add(
            Rejection(
                station_id=station_id[:64],
                seq=seq,
                code=refused.code,
                reason=reason,
                message=refused.message,
                body_sha256=hashlib.sha256(body).hexdigest(),
                body=body,
                received_at_ms=_now_ms(),
            )
        )
    log.warning("batch.rejected", station_id=station_id, batch_seq=seq, code=refused.code)
