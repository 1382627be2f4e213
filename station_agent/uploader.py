"""Upload the journal to the centre as signed, hash-chained batches (docs/station-protocol.md).

The chain head lives in an *outbox*: a small SQLite file next to the journal
(``<journal>.outbox``, WAL, ``synchronous=FULL``) holding every batch built, its
exact signed body and the last journal event id it carries. A batch is written
to the outbox durably **before** it is sent, so after a crash the same ``seq``
is re-sent with the same bytes and the chain cannot fork. The journal's
``upload_marks`` are the acknowledgements: a batch is acked once the journal is
marked up to its last event, which happens only on the centre's 201
(``accepted``), 200 (``duplicate``) or 409 ``PEN.704`` (replay: already stored).

One :meth:`Uploader.step` sends at most one batch (plus the missing ones on a
``PEN.702`` gap) and says whether it was full (more was waiting); when to step
is the upload policy of :class:`~station_agent.closing.UploadLoop`. Transport
errors and 5xx answers are retried with exponential backoff and jitter;
``sleep`` and ``rand`` are injectable for tests.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pen.batches import (
    GENESIS_HASH,
    MAX_RAW_BYTES,
    BatchEvent,
    JsonValue,
    batch_hash,
    encode_batch,
    make_batch,
    sign_batch,
)
from station_agent.journal import Entry, Journal

_OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    upto_event_id INTEGER NOT NULL,
    n_events INTEGER NOT NULL,
    body BLOB NOT NULL,
    built_ms INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS outbox_no_update BEFORE UPDATE ON outbox
BEGIN SELECT RAISE(ABORT, 'outbox is append-only'); END;
CREATE TRIGGER IF NOT EXISTS outbox_no_delete BEFORE DELETE ON outbox
BEGIN SELECT RAISE(ABORT, 'outbox is append-only'); END;
"""

ACKED = ("accepted", "duplicate", "replay")
BATCH_EVENTS = 500
"""Most events in one batch by default (``Uploader(max_events=...)``): ~25 s of
continuous writing at 100 Hz, ~180 KB; only a backlog fills one."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What one step did. ``status``: ``idle`` (nothing to send), ``accepted``,
    ``duplicate``, ``replay`` (acked), ``unavailable`` (retries exhausted; try later),
    or ``refused`` (``code`` says why: PEN.703 fork, PEN.603 key, ...; do not resend)."""

    status: str
    seq: int | None = None
    events: int = 0
    code: str = ""
    message: str = ""
    expected_seq: int | None = None
    """On ``PEN.702`` (gap): the seq the centre expects next."""
    full: bool = False
    """The batch was as big as a batch may be (``max_events`` or ``max_raw_bytes``):
    more was waiting when it was built, so the next one can go at once."""

    @property
    def acked(self) -> bool:
        return self.status in ACKED


@dataclass(frozen=True, slots=True)
class _Outgoing:
    seq: int
    hash: str
    upto_event_id: int
    n_events: int
    body: bytes
    full: bool = False
    """Built from a backlog that did not fit (see :attr:`UploadResult.full`)."""


def _summary(e: Entry) -> dict[str, JsonValue]:
    ev = e.event
    return {
        "id": e.id,
        "key": ev.key,
        "source": ev.source,
        "kind": ev.kind,
        "code": ev.code,
        "pen_serial": ev.pen_serial,
        "pen_session": ev.pen_session,
        "seq": ev.seq,
        "detail": ev.detail,
        "flagged": ev.flagged,
        "recorded_ms": e.recorded_ms,
    }


class Uploader:
    """Send the journal's pending events to ``base_url`` (the ``client``'s) in order."""

    def __init__(
        self,
        journal: Journal,
        station_id: str,
        key: Ed25519PrivateKey,
        base_url: str,
        client: httpx.Client,
        *,
        max_events: int = BATCH_EVENTS,
        max_raw_bytes: int = MAX_RAW_BYTES // 2,
        attempts: int = 5,
        backoff_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        outbox_path: str | Path | None = None,
    ) -> None:
        self.journal = journal
        self.station_id = station_id
        self._key = key
        self._url = base_url.rstrip("/") + f"/v1/stations/{station_id}/batches"
        self._client = client
        self.max_events = max(1, min(max_events, 10_000))
        self.max_raw_bytes = max_raw_bytes
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._rand = rand
        path = (
            Path(outbox_path)
            if outbox_path
            else journal.path.with_name(journal.path.name + ".outbox")
        )
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_OUTBOX_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- the outbox ----------------------------------------------------------------------

    def _row(self, where: str, params: tuple[object, ...] = ()) -> _Outgoing | None:
        r = self._db.execute(
            f"SELECT seq, hash, upto_event_id, n_events, body FROM outbox {where}", params
        ).fetchone()
        if r is None:
            return None
        return _Outgoing(r[0], r[1], r[2], r[3], bytes(r[4]), full=r[3] >= self.max_events)

    def head(self) -> _Outgoing | None:
        """The last batch built (sent or not)."""
        return self._row("ORDER BY seq DESC LIMIT 1")

    def _unacked(self) -> _Outgoing | None:
        last = self.head()
        if last is not None and self.journal.uploaded_upto() < last.upto_event_id:
            return last
        return None

    def _build(self, now_ms: int) -> _Outgoing | None:
        entries = self.journal.pending(self.max_events)
        chosen: list[Entry] = []
        total = 0
        for e in entries:
            size = len(e.event.frame)
            if chosen and total + size > self.max_raw_bytes:
                break
            chosen.append(e)
            total += size
        if not chosen:
            return None
        last = self.head()
        seq, prev = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
        events = [BatchEvent(e.event.frame, _summary(e)) for e in chosen]
        batch = sign_batch(make_batch(self.station_id, seq, prev, events, now_ms), self._key)
        full = len(chosen) < len(entries) or len(entries) >= self.max_events
        out = _Outgoing(
            seq, batch_hash(batch), chosen[-1].id, len(chosen), encode_batch(batch), full
        )
        self._db.execute(  # durable (WAL + synchronous=FULL) before anything is sent
            "INSERT INTO outbox (seq, hash, prev_hash, upto_event_id, n_events, body, built_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (out.seq, out.hash, prev, out.upto_event_id, out.n_events, out.body, now_ms),
        )
        return out

    # --- sending -------------------------------------------------------------------------

    def _post(self, body: bytes) -> httpx.Response | None:
        """POST with retries on transport errors and 5xx; None when they are exhausted."""
        for attempt in range(self.attempts):
            if attempt:
                delay = min(self.backoff_cap_s, self.backoff_s * 2 ** (attempt - 1))
                self._sleep(delay * (0.5 + self._rand() / 2))
            try:
                r = self._client.post(
                    self._url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError:
                continue
            if r.status_code < 500:
                return r
        return None

    def _send(self, out: _Outgoing, now_ms: int) -> UploadResult:
        r = self._post(out.body)
        if r is None:
            msg = "the centre did not answer; the batch will be re-sent as is"
            return UploadResult("unavailable", out.seq, out.n_events, "HTTP.503", msg)
        if r.status_code in (200, 201):
            status = str(r.json()["status"])
        else:
            try:
                err = r.json()["error"]
                code, message, details = str(err["code"]), str(err["message"]), err["details"]
            except (ValueError, KeyError, TypeError):
                code, message, details = f"HTTP.{r.status_code}", r.text[:200], {}
            if code == "PEN.702" and isinstance(details, dict):
                exp = details.get("expected_seq")
                exp_seq = exp if isinstance(exp, int) else None
                return UploadResult("refused", out.seq, out.n_events, code, message, exp_seq)
            if code != "PEN.704":
                return UploadResult("refused", out.seq, out.n_events, code, message)
            if not isinstance(details, dict) or details.get("stored_hash") != out.hash:
                return UploadResult("refused", out.seq, out.n_events, "PEN.703", message)
            status = "replay"
        if self.journal.uploaded_upto() < out.upto_event_id:
            self.journal.mark_uploaded(out.upto_event_id, f"batch {out.seq} {out.hash}", now_ms)
        return UploadResult(status, out.seq, out.n_events, full=out.full)

    def step(self, now_ms: int) -> UploadResult:
        """Send the unacknowledged batch again, or build and send the next one."""
        out = self._unacked() or self._build(now_ms)
        if out is None:
            return UploadResult("idle")
        result = self._send(out, now_ms)
        if result.code == "PEN.702" and result.expected_seq is not None:
            # the centre misses earlier batches: re-send them from the outbox, in order
            for seq in range(max(1, result.expected_seq), out.seq + 1):
                older = self._row("WHERE seq = ?", (seq,))
                if older is None:
                    break
                result = self._send(older, now_ms)
                if result.status not in ACKED:
                    break
        return result
