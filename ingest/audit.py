"""The audit log: append-only and hash-chained, with a verifier that finds any tampering.

Every review keying and decision, every read of personal data, every change to
users and tokens and every export appends one :class:`~ingest.db.AuditEntry`
*in the same transaction* as the act itself, so an act is never without its entry.

Entry ``seq`` (1, 2, ...) has ``hash = SHA-256(canonical JSON of [prev_hash, seq,
at_ms, actor, action, target, detail])`` and ``prev_hash`` = the hash of entry
``seq - 1`` (64 zeros for the first). Canonical JSON: keys sorted, no spaces,
UTF-8. The one-row :class:`~ingest.db.AuditHead` repeats the newest seq and hash,
so deleting the newest entries shows too. The ORM refuses to update or delete
entries; :func:`verify_audit` finds rows edited, deleted, inserted or reordered
behind its back (by SQL). Someone who rewrites the whole chain *and* the head is
only caught against a head published elsewhere (``GET /v1/audit`` gives it).

Appends are serialised: SQLite's ``BEGIN IMMEDIATE`` already does it, and on
PostgreSQL a transaction-scoped advisory lock does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from ingest.db import AuditEntry, AuditHead, session

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x504C554D  # "PLUM": the advisory lock of audit appends


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(
    prev_hash: str, seq: int, at_ms: int, actor: str, action: str, target: str, detail: Any
) -> str:
    """The hash of one entry, from its content and its predecessor's hash."""
    body = [prev_hash, seq, at_ms, actor, action, target, detail]
    return hashlib.sha256(canonical(body)).hexdigest()


def append(
    s: Session, actor: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry inside the caller's transaction (``s.begin()`` already open)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = s.get(AuditHead, 1)
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    at_ms = time.time_ns() // 1_000_000
    detail = json.loads(canonical(detail or {}))  # what the database will give back
    entry = AuditEntry(
        seq=seq,
        at_ms=at_ms,
        actor=actor[:80],
        action=action[:48],
        target=target[:160],
        detail=detail,
        prev_hash=prev,
        hash=entry_hash(prev, seq, at_ms, actor[:80], action[:48], target[:160], detail),
    )
    s.add(entry)
    if head is None:
        s.add(AuditHead(id=1, seq=seq, hash=entry.hash))
    else:
        head.seq, head.hash = seq, entry.hash
    s.flush()
    return entry


@dataclass(frozen=True)
class Row:
    """The stored columns of one entry, as read back for verification."""

    seq: int
    at_ms: int
    actor: str
    action: str
    target: str
    detail: Any
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_chain` found: ``ok``, or the first bad seq and why."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None


def verify_chain(rows: Sequence[Row], head: tuple[int, str] | None) -> Verification:
    """Check ``rows`` (in stored seq order) against each other and against ``head``."""
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):

        def bad(problem: str, row: Row = row) -> Verification:
            return Verification(False, len(rows), *(head or (0, GENESIS)), row.seq, problem)

        if row.seq != expected_seq:
            return bad(f"entry {expected_seq} is missing (found {row.seq} in its place)")
        if row.prev_hash != prev:
            return bad(f"entry {row.seq} does not follow entry {row.seq - 1}")
        fields = (row.at_ms, row.actor, row.action, row.target, row.detail)
        if entry_hash(row.prev_hash, row.seq, *fields) != row.hash:
            return bad(f"entry {row.seq} was changed after it was written")
        prev = row.hash
    last = (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)
    stored = head or (0, GENESIS)
    if stored != last:
        problem = f"the head says entry {stored[0]} is the newest; the log ends at {last[0]}"
        return Verification(False, len(rows), *stored, max(stored[0], last[0]), problem)
    return Verification(True, len(rows), last[0], last[1])


def read_rows(engine: Engine) -> tuple[list[Row], tuple[int, str] | None]:
    """Every entry in seq order, and the stored head."""
    columns = (
        AuditEntry.seq,
        AuditEntry.at_ms,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.target,
        AuditEntry.detail,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    )
    with session(engine) as s:
        rows = [Row(*r) for r in s.execute(select(*columns).order_by(AuditEntry.seq))]
        head = s.get(AuditHead, 1)
        return rows, (head.seq, head.hash) if head else None


def verify_audit(engine: Engine) -> Verification:
    """Verify the whole stored log: any edited, deleted, inserted or reordered entry shows."""
    rows, head = read_rows(engine)
    return verify_chain(rows, head)


def entries(
    engine: Engine, limit: int, offset: int, action: str | None = None
) -> tuple[int, list[AuditEntry]]:
    """A page of entries, newest first, optionally of one action; and how many there are."""
    q = select(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    with session(engine) as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        page = list(s.scalars(q.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)))
    return total, page
