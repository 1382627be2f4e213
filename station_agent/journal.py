"""The station's local journal: every byte and event from the pen, durable before use.

A SQLite database in WAL mode with ``synchronous=FULL``. Every table is
append-only (triggers refuse UPDATE and DELETE) with a monotonic
``AUTOINCREMENT`` id, so a kill -9 or a power cut at any instant leaves
either a whole transaction or nothing, and nothing is ever rewritten.

Tables (schema version :data:`SCHEMA_VERSION`, in ``PRAGMA user_version``):

- ``connections``: one row per opening of the pen's port.
- ``raw_chunks``: the exact bytes read from the line, for audit
  (unique on connection and stream offset).
- ``events``: every decoded message, every anomaly and every agent decision
  (clock offset, unknown pen...), unique on ``key`` so that re-delivering the
  same frames inserts nothing (:meth:`Journal.record` returns how many rows
  were new). ``frame`` holds the exact frame bytes of a message, or the
  evidence bytes of an anomaly.
- ``batch_chunks``: offline batch chunks as received, per connection.
- ``batches``: offline batches verified (size and CRC) and decoded; unique
  on (pen serial, batch id, CRC), written in the same transaction as their
  events, so a batch re-offered after a lost ``BatchCommit`` adds nothing.
- ``upload_marks``: "events up to id N are at the centre" (append-only too).

Nothing is opened at import time: :meth:`Journal.open` does it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SCHEMA_VERSION = 1

_TABLES = ("connections", "raw_chunks", "events", "batch_chunks", "batches", "upload_marks")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    port TEXT NOT NULL,
    opened_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    stream_offset INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (connection_id, stream_offset)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    connection_id INTEGER REFERENCES connections(id),
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    pen_serial TEXT NOT NULL,
    pen_session TEXT NOT NULL,
    seq INTEGER,
    frame BLOB NOT NULL,
    detail TEXT NOT NULL,
    flagged INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    pen_serial TEXT NOT NULL,
    batch_id INTEGER NOT NULL,
    crc32 INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (connection_id, pen_serial, batch_id, crc32, idx)
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pen_serial TEXT NOT NULL,
    batch_id INTEGER NOT NULL,
    crc32 INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    n_events INTEGER NOT NULL,
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    committed_ms INTEGER NOT NULL,
    UNIQUE (pen_serial, batch_id, crc32)
);
CREATE TABLE IF NOT EXISTS upload_marks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    upto_event_id INTEGER NOT NULL,
    reference TEXT NOT NULL,
    marked_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_source ON events (source, pen_serial, id);
"""

_APPEND_ONLY = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
    for t in _TABLES
)


class JournalError(Exception):
    """The journal cannot be used; ``code`` is stable, the message says what to do."""

    code = "AGENT.001"

    def __str__(self) -> str:
        return f"[{self.code}] {self.args[0]}"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event to journal. ``key`` makes re-delivery idempotent."""

    key: str
    source: str
    """``live`` (read from the line), ``batch`` (from an offline batch) or ``agent``."""
    kind: str
    """Message or anomaly class name (``PenDown``, ``Garbage``, ``ClockSet``...)."""
    pen_serial: str
    pen_session: str
    code: str = ""
    """Stable anomaly code (``WIRE.101``, ``AGENT.102``...); empty for messages."""
    seq: int | None = None
    frame: bytes = b""
    """Exact frame bytes of a message, or the evidence bytes of an anomaly."""
    detail: str = "{}"
    """JSON of the scalar fields."""
    flagged: bool = False
    """The pen is not in the station kit's list: stored, but not to be trusted blindly."""


@dataclass(frozen=True, slots=True)
class Entry:
    """An event as stored, with its journal id."""

    id: int
    connection_id: int | None
    recorded_ms: int
    event: EventRecord


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    pen_serial: str
    batch_id: int
    crc32: int
    index: int
    data: bytes


@dataclass(frozen=True, slots=True)
class JournalStats:
    connections: int
    raw_bytes: int
    events: int
    anomalies: int
    flagged: int
    batches: int
    backlog: int
    """Events not yet marked uploaded."""
    pens: tuple[str, ...]


_EVENT_COLS = (
    "key, source, kind, pen_serial, pen_session, code, seq, frame, detail, flagged, "
    "connection_id, recorded_ms"
)


class Journal:
    """The journal of one station laptop. Not thread-safe: one writer, the agent."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._db = conn
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> Journal:
        """Open (creating if needed) the journal at ``path``."""
        path = Path(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:  # a new journal (IF NOT EXISTS: two agents may race here)
                conn.executescript(
                    f"BEGIN IMMEDIATE;{_SCHEMA}{_APPEND_ONLY}"
                    f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}; check the disk") from exc
        if version not in (0, SCHEMA_VERSION):
            conn.close()
            raise JournalError(
                f"{path} is a journal of schema version {version}; this agent reads version "
                f"{SCHEMA_VERSION}: use the agent that wrote it"
            )
        return cls(conn, path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")  # durable on return: WAL + synchronous=FULL

    # --- writing -------------------------------------------------------------------------

    def begin_connection(self, port: str, now_ms: int) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO connections (port, opened_ms) VALUES (?, ?)", (port, now_ms)
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def record(
        self,
        connection_id: int | None,
        now_ms: int,
        events: Sequence[EventRecord],
        *,
        raw: tuple[int, bytes] | None = None,
        chunks: Sequence[ChunkRecord] = (),
    ) -> int:
        """Write the raw bytes (``(stream_offset, data)``), events and chunks in one transaction.

        Returns how many events were new (re-delivered keys are ignored).
        """
        with self._tx() as db:
            if raw is not None and connection_id is not None:
                db.execute(
                    "INSERT OR IGNORE INTO raw_chunks "
                    "(connection_id, stream_offset, received_ms, data) VALUES (?, ?, ?, ?)",
                    (connection_id, raw[0], now_ms, raw[1]),
                )
            db.executemany(
                "INSERT OR IGNORE INTO batch_chunks "
                "(connection_id, pen_serial, batch_id, crc32, idx, data) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (connection_id, c.pen_serial, c.batch_id, c.crc32, c.index, c.data)
                    for c in chunks
                ],
            )
            return self._insert_events(db, connection_id, now_ms, events)

    @staticmethod
    def _insert_events(
        db: sqlite3.Connection,
        connection_id: int | None,
        now_ms: int,
        events: Sequence[EventRecord],
    ) -> int:
        before = db.total_changes
        db.executemany(
            f"INSERT OR IGNORE INTO events ({_EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    e.key,
                    e.source,
                    e.kind,
                    e.pen_serial,
                    e.pen_session,
                    e.code,
                    e.seq,
                    e.frame,
                    e.detail,
                    int(e.flagged),
                    connection_id,
                    now_ms,
                )
                for e in events
            ],
        )
        return db.total_changes - before

    def complete_batch(
        self,
        connection_id: int,
        now_ms: int,
        pen_serial: str,
        batch_id: int,
        crc32: int,
        total_bytes: int,
        events: Sequence[EventRecord],
    ) -> bool:
        """Record a verified batch and its decoded events atomically; False if already there."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO batches (pen_serial, batch_id, crc32, total_bytes, n_events,"
                " connection_id, committed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pen_serial, batch_id, crc32, total_bytes, len(events), connection_id, now_ms),
            )
            if cur.rowcount == 0:
                return False
            self._insert_events(db, connection_id, now_ms, events)
        return True

    def mark_uploaded(self, upto_event_id: int, reference: str, now_ms: int) -> None:
        """The centre acknowledged every event up to ``upto_event_id``."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO upload_marks (upto_event_id, reference, marked_ms) VALUES (?, ?, ?)",
                (upto_event_id, reference, now_ms),
            )

    # --- reading -------------------------------------------------------------------------

    def batch_data(
        self, connection_id: int, pen_serial: str, batch_id: int, crc32: int, n_chunks: int
    ) -> bytes | None:
        """The batch's data from the chunks of this connection, or None if one is missing."""
        rows = self._db.execute(
            "SELECT idx, data FROM batch_chunks WHERE connection_id=? AND pen_serial=? "
            "AND batch_id=? AND crc32=? ORDER BY idx",
            (connection_id, pen_serial, batch_id, crc32),
        ).fetchall()
        if [r[0] for r in rows] != list(range(n_chunks)):
            return None
        return b"".join(r[1] for r in rows)

    def has_batch(self, pen_serial: str, batch_id: int, crc32: int) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM batches WHERE pen_serial=? AND batch_id=? AND crc32=?",
            (pen_serial, batch_id, crc32),
        ).fetchone()
        return row is not None

    def uploaded_upto(self) -> int:
        row = self._db.execute("SELECT MAX(upto_event_id) FROM upload_marks").fetchone()
        return int(row[0] or 0)

    def pending(self, limit: int = 1000) -> list[Entry]:
        """The oldest events not yet uploaded, at most ``limit`` (memory stays bounded)."""
        return self.entries("id > ? ORDER BY id LIMIT ?", (self.uploaded_upto(), limit))

    def backlog(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE id > ?", (self.uploaded_upto(),)
        ).fetchone()
        return int(row[0])

    def entries(self, where: str = "1 ORDER BY id", params: Sequence[object] = ()) -> list[Entry]:
        """Events matching an SQL condition on the ``events`` table (trusted callers only)."""
        rows = self._db.execute(
            f"SELECT id, {_EVENT_COLS} FROM events WHERE {where}", tuple(params)
        ).fetchall()
        return [
            Entry(r[0], r[11], r[12], EventRecord(r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                                                  bytes(r[8]), r[9], bool(r[10])))
            for r in rows
        ]  # fmt: skip

    def stream(self, pen_serial: str, source: str = "live") -> bytes:
        """The frames of one pen from one source, concatenated: a stream ``decode_ink`` reads.

        Session after session (in the order each began), each in journal order: frames a
        v2 pen re-sent on a later connection are journaled after frames of the sessions
        that came since, and go back to their own session here."""
        rows = self._db.execute(
            "SELECT pen_session, frame FROM events WHERE pen_serial=? AND source=? AND code='' "
            "ORDER BY id",
            (pen_serial, source),
        ).fetchall()
        sessions: dict[str, list[bytes]] = {}
        for session, frame in rows:
            sessions.setdefault(session, []).append(bytes(frame))
        return b"".join(f for frames in sessions.values() for f in frames)

    def previous_connection(self, connection_id: int) -> int | None:
        """The last connection before ``connection_id`` that read anything, if any."""
        row = self._db.execute(
            "SELECT MAX(connection_id) FROM raw_chunks WHERE connection_id < ?", (connection_id,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def raw_tail(self, connection_id: int, max_bytes: int) -> bytes:
        """The last raw bytes of a connection: whole chunks, at least ``max_bytes`` if there."""
        rows = self._db.execute(
            "SELECT data FROM raw_chunks WHERE connection_id=? ORDER BY stream_offset DESC",
            (connection_id,),
        )
        tail: list[bytes] = []
        size = 0
        for (data,) in rows:
            tail.append(bytes(data))
            size += len(data)
            if size >= max_bytes:
                break
        return b"".join(reversed(tail))

    def last_live_pen(self, before_connection: int) -> tuple[str, str, bool] | None:
        """(serial, session, flagged) of the last pen message read live on a connection
        opened before ``before_connection`` (not only the one just before: an agent may
        have died before it read anything)."""
        row = self._db.execute(
            "SELECT pen_serial, pen_session, flagged FROM events WHERE connection_id < ? "
            "AND source='live' AND pen_serial != '' ORDER BY id DESC LIMIT 1",
            (before_connection,),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), bool(row[2]))

    def last_live_seq(self, pen_session: str) -> int | None:
        """The seq of the last frame of a pen session read live (journal order), if any."""
        serial = pen_session.rpartition("@")[0]
        row = self._db.execute(
            "SELECT seq FROM events WHERE source='live' AND pen_serial=? AND pen_session=? "
            "AND code='' AND seq IS NOT NULL ORDER BY id DESC LIMIT 1",
            (serial, pen_session),
        ).fetchone()
        return None if row is None else int(row[0])

    def live_version(self, pen_session: str) -> int | None:
        """The protocol version the hello of a pen session read live declared, if any."""
        serial = pen_session.rpartition("@")[0]
        row = self._db.execute(
            "SELECT detail FROM events WHERE source='live' AND pen_serial=? AND pen_session=? "
            "AND kind='Hello' AND code='' ORDER BY id LIMIT 1",
            (serial, pen_session),
        ).fetchone()
        if row is None:
            return None
        version = json.loads(row[0]).get("protocol_version")
        return version if isinstance(version, int) else None

    def raw_bytes(self, connection_id: int) -> bytes:
        rows = self._db.execute(
            "SELECT data FROM raw_chunks WHERE connection_id=? ORDER BY stream_offset",
            (connection_id,),
        ).fetchall()
        return b"".join(bytes(r[0]) for r in rows)

    def stats(self) -> JournalStats:
        db = self._db

        def one(sql: str) -> int:
            return int(db.execute(sql).fetchone()[0] or 0)

        pens = db.execute(
            "SELECT DISTINCT pen_serial FROM events WHERE pen_serial != '' ORDER BY 1"
        ).fetchall()
        return JournalStats(
            connections=one("SELECT COUNT(*) FROM connections"),
            raw_bytes=one("SELECT SUM(LENGTH(data)) FROM raw_chunks"),
            events=one("SELECT COUNT(*) FROM events"),
            anomalies=one("SELECT COUNT(*) FROM events WHERE code != ''"),
            flagged=one("SELECT COUNT(*) FROM events WHERE flagged"),
            batches=one("SELECT COUNT(*) FROM batches"),
            backlog=self.backlog(),
            pens=tuple(r[0] for r in pens),
        )

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` when the file is sound."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
