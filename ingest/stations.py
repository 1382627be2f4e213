"""Station kits, enrolment and batch intake: the rules, over a SQLAlchemy engine.

The batch rules themselves live in :mod:`pen.batches` (format, signature, chain);
this module adapts them to storage. A refused batch raises :class:`Refused`,
which the API stores as a :class:`~ingest.db.Rejection` and answers as one error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from weakref import WeakKeyDictionary

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, Table, TextClause, insert, select, text
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from ingest.db import Rejection, Station, StoredBatch, session
from ingest.errors import ApiError
from ingest.group_commit import GroupCommit
from pen.batches import (
    STATION_ID_RE,
    BadSignatureError,
    Batch,
    ChainHead,
    MalformedBatchError,
    UnknownBatchFormatError,
    Verdict,
    batch_hash,
    canonical_bytes,
    check_chain,
    load_public_key,
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


@dataclass(frozen=True, slots=True)
class _Hint:
    """What this process last saw of an enrolled station; every write checks it still holds."""

    public_key: bytes
    verifier: Ed25519PublicKey
    head_seq: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class _Next:
    """A verified batch to store if the station's head is still the hint's.

    It keeps the stored row's values, not the parsed batch: the parsed events (a few
    hundred small objects) can go as soon as the batch is verified, rather than wait
    for the commit while the garbage collector walks them."""

    row: dict[str, Any]
    """The :class:`~ingest.db.StoredBatch` row but ``received_at_ms`` (:func:`_row`)."""
    hint: _Hint

    @property
    def station_id(self) -> str:
        sid: str = self.row["station_id"]
        return sid

    @property
    def seq(self) -> int:
        seq: int = self.row["seq"]
        return seq


def _append(conn: Connection, items: list[_Next]) -> list[bool]:
    """Advance each station's head where it is still the hint's, and store those batches.

    One statement advances every head of the group (:func:`_advance_sql`) and names the
    stations it moved; a station's second item in one group (a retry raced on another
    connection, a fork) is left to the caller's slow path, which decides it on the row.
    """
    firsts: dict[str, int] = {}
    for i, n in enumerate(items):
        firsts.setdefault(n.station_id, i)
    todo = sorted(firsts.values(), key=lambda i: items[i].station_id)
    params: dict[str, Any] = {}
    for j, i in enumerate(todo):
        n = items[i]
        params |= {
            f"sid{j}": n.station_id,
            f"old_seq{j}": n.hint.head_seq,
            f"old_hash{j}": n.hint.head_hash,
            f"key{j}": n.hint.public_key,
            f"new_seq{j}": n.seq,
            f"new_hash{j}": n.row["hash"],
        }
    advanced = set(conn.execute(_advance_sql(len(todo)), params).scalars())
    moved = [firsts[n.station_id] == i and n.station_id in advanced for i, n in enumerate(items)]
    now = _now_ms()
    rows = [n.row | {"received_at_ms": now} for n, ok in zip(items, moved, strict=True) if ok]
    if rows:
        conn.execute(insert(_BATCHES), rows)
    return moved


@lru_cache(maxsize=64)
def _advance_sql(n: int) -> TextClause:
    """``UPDATE stations`` of ``n`` heads at once, each only where the row still holds the
    hinted head and key; returns the station ids it moved.

    One statement for the group instead of one per batch: on PostgreSQL every statement
    is a round trip, after which the commit thread waits for the interpreter lock again
    behind the event loop. A common table of VALUES, as SQLite (3.35+) and PostgreSQL
    both read it; the first row's casts type the columns for PostgreSQL.
    """
    rows = ", ".join(
        f"(CAST(:sid{j} AS VARCHAR), CAST(:old_seq{j} AS BIGINT), CAST(:old_hash{j} AS VARCHAR),"
        f" :key{j}, CAST(:new_seq{j} AS BIGINT), CAST(:new_hash{j} AS VARCHAR))"
        if j == 0
        else f"(:sid{j}, :old_seq{j}, :old_hash{j}, :key{j}, :new_seq{j}, :new_hash{j})"
        for j in range(n)
    )
    return text(
        f"WITH v(sid, old_seq, old_hash, pkey, new_seq, new_hash) AS (VALUES {rows}) "
        "UPDATE stations SET head_seq = v.new_seq, head_hash = v.new_hash FROM v "
        "WHERE stations.station_id = v.sid AND stations.head_seq = v.old_seq"
        " AND stations.head_hash = v.old_hash AND stations.public_key = v.pkey "
        "RETURNING stations.station_id"
    )


class _Intake:
    """Per engine: the stations' hints and the group committer of their batches."""

    def __init__(self) -> None:
        self.hints: dict[str, _Hint] = {}
        self.commits: GroupCommit[_Next, bool] = GroupCommit(_append, failed=False)

    def remember(self, key: bytes, head_seq: int, head_hash: str, sid: str) -> None:
        old = self.hints.get(sid)
        verifier = old.verifier if old and old.public_key == key else load_public_key(key)
        self.hints[sid] = _Hint(key, verifier, head_seq, head_hash)


_STATIONS = cast(Table, Station.__table__)
_BATCHES = cast(Table, StoredBatch.__table__)
_intakes: WeakKeyDictionary[Engine, _Intake] = WeakKeyDictionary()
"""A hint only spares a read: a stale one (another worker moved the head, the station
re-enrolled) fails the conditional UPDATE of :func:`_append`, and the batch is then
decided by :func:`_decide` on the station's row read under lock."""
_intakes_lock = threading.Lock()


def _intake(engine: Engine) -> _Intake:
    with _intakes_lock:
        found = _intakes.get(engine)
        if found is None:
            found = _intakes[engine] = _Intake()
        return found


def _signed_by(batch: Batch, signed: bytes, key: Ed25519PublicKey) -> bool:
    if batch.signature is None:
        return False
    try:
        key.verify(batch.signature, signed)
    except InvalidSignature:
        return False
    return True


def receive_batch(engine: Engine, station_id: str, body: bytes) -> Ack:
    """Parse, verify, chain-check and store one batch; raise :class:`Refused` otherwise.

    The usual case, the next batch of a station this process has seen, is
    verified outside any transaction and stored by a group commit
    (:mod:`ingest.group_commit`): a conditional UPDATE of the head and the
    INSERT, sharing one commit with the batches of other stations. Anything else
    (a first batch, a retry, a gap, a fork, a replay, a head moved by another
    worker) is decided by :func:`_decide` on the station's row read under lock.
    """
    intake = _intake(engine)
    prepared = _prepare(intake, station_id, body)
    if isinstance(prepared, _Next):
        if intake.commits.run(engine, prepared):
            return _accepted(intake, prepared)
        prepared = _parse(body)  # the head moved meanwhile: decide on the whole batch
    with intake.commits.exclusive():
        return _decide(engine, intake, prepared, body)


async def receive_batch_async(engine: Engine, station_id: str, body: bytes) -> Ack:
    """:func:`receive_batch` for the event loop: the usual case holds no thread while it waits.

    Parsing and verifying a small batch (most are ~7 KB, a fraction of a
    millisecond) run on the loop; a big one, and the slow path, in a worker thread.
    """
    if len(body) > _INLINE_BYTES:
        return await run_in_threadpool(receive_batch, engine, station_id, body)
    intake = _intake(engine)
    prepared = _prepare(intake, station_id, body)
    if isinstance(prepared, _Next):
        if await asyncio.wrap_future(intake.commits.submit(engine, prepared)):
            return _accepted(intake, prepared)
        prepared = _parse(body)  # the head moved meanwhile: decide on the whole batch
    return await run_in_threadpool(_decide_locked, engine, intake, prepared, body)


_INLINE_BYTES = 64 * 1024
"""Batches up to this size are parsed and verified on the event loop."""


def _parse(body: bytes) -> Batch:
    """The batch in ``body``; :class:`Refused` if it is none."""
    try:
        return parse_batch(body)
    except (UnknownBatchFormatError, MalformedBatchError) as exc:
        reason = "unknown_format" if isinstance(exc, UnknownBatchFormatError) else "malformed"
        raise Refused(422, exc.code, reason, exc.message, exc.seq) from None


def _prepare(intake: _Intake, station_id: str, body: bytes) -> Batch | _Next:
    """Parse ``body`` (:class:`Refused` if it is not a batch for this URL): what to store
    if it is the signed successor of the station's hinted head, else the batch, for
    :func:`_decide`."""
    batch = _parse(body)
    seq = batch.seq
    if batch.station_id != station_id:
        msg = f"the batch is from station {batch.station_id}, sent to station {station_id}'s URL"
        raise Refused(422, "PEN.601", "wrong_station", msg, seq)
    hint = intake.hints.get(station_id)
    if hint is None or seq != hint.head_seq + 1 or batch.prev_hash != hint.head_hash:
        return batch
    signed = canonical_bytes(batch)
    if not _signed_by(batch, signed, hint.verifier):
        return batch
    return _Next(_row(batch, body, hashlib.sha256(signed).hexdigest()), hint)


def _accepted(intake: _Intake, n: _Next) -> Ack:
    sid, seq, h, events = n.station_id, n.seq, n.row["hash"], n.row["event_count"]
    intake.remember(n.hint.public_key, seq, h, sid)
    log.info("batch.accepted", station_id=sid, batch_seq=seq, events=events)
    return Ack(sid, seq, h, "accepted", seq, events)


def _decide_locked(engine: Engine, intake: _Intake, batch: Batch, body: bytes) -> Ack:
    with intake.commits.exclusive():
        return _decide(engine, intake, batch, body)


def _row(batch: Batch, body: bytes, h: str) -> dict[str, Any]:
    """The stored row of ``batch`` (``received_at_ms`` is added when it is written)."""
    return {
        "station_id": batch.station_id,
        "seq": batch.seq,
        "hash": h,
        "prev_hash": batch.prev_hash,
        "format_version": batch.format_version,
        "created_ms": batch.created_ms,
        "event_count": len(batch.events),
        "body": body,
    }


def _decide(engine: Engine, intake: _Intake, batch: Batch, body: bytes) -> Ack:
    """Verify and chain-check ``batch`` against the station's row read under lock; store it."""
    sid, seq, h = batch.station_id, batch.seq, batch_hash(batch)
    for attempt in range(3):
        try:
            with session(engine) as s, s.begin():
                station = s.get(Station, sid, with_for_update=True)
                if station is None or station.public_key is None:
                    msg = (
                        f"station {sid} is unknown or not enrolled; "
                        "enrol it with its kit code first"
                    )
                    raise Refused(404, "STATION.404", "not_enrolled", msg, seq)
                key = station.public_key
                try:
                    verify_batch(batch, key)
                except BadSignatureError as exc:
                    raise Refused(403, exc.code, "bad_signature", exc.message, seq) from None
                head = ChainHead(station.head_seq, station.head_hash) if station.head_seq else None

                def hash_at(n: int) -> str | None:
                    q = select(StoredBatch.hash).where(
                        StoredBatch.station_id == sid, StoredBatch.seq == n
                    )
                    return s.scalar(q)

                verdict = check_chain(batch, head, hash_at)
                if verdict.verdict is Verdict.DUPLICATE:
                    intake.remember(key, station.head_seq, station.head_hash, sid)
                    return Ack(sid, seq, h, "duplicate", station.head_seq)
                if verdict.verdict is not Verdict.ACCEPTED:
                    intake.remember(key, station.head_seq, station.head_hash, sid)
                    details = {"expected_seq": verdict.expected_seq, "hash": h}
                    if verdict.verdict is Verdict.REPLAY:
                        details["stored_hash"] = hash_at(seq)
                    reason = _CHAIN_REASONS[verdict.verdict]
                    raise Refused(409, verdict.code, reason, verdict.message, seq, details)
                s.add(StoredBatch(**_row(batch, body, h), received_at_ms=_now_ms()))
                station.head_seq, station.head_hash = seq, h
        except IntegrityError:  # a concurrent request stored this seq first: look again
            if attempt == 2:
                raise
            continue
        intake.remember(key, seq, h, sid)
        log.info("batch.accepted", station_id=sid, batch_seq=seq, events=len(batch.events))
        return Ack(sid, seq, h, "accepted", seq, len(batch.events))
    raise AssertionError("unreachable")


def store_rejection(engine: Engine, station_id: str, body: bytes, refused: ApiError) -> None:
    """Keep a refused batch as evidence: who, which seq, why, and the body."""
    reason = refused.reason if isinstance(refused, Refused) else "refused"
    seq = refused.seq if isinstance(refused, Refused) else None
    with _intake(engine).commits.exclusive(), session(engine) as s, s.begin():
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
