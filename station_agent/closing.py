"""Uploading in the background, closing, flushing (docs/station-protocol.md).

At the close the agent first journals a :data:`STATION_CLOSED` agent note (the
centre's pipeline relies on this exact kind to know the station is closed), then
flushes, then shows the closing code: :func:`pen.batches.closing_code` (pure) binds
the paper PV to the head of the station's hash chain. :class:`UploadLoop` runs an
:class:`~station_agent.uploader.Uploader` in its own thread with its own journal
connection (the journal is not thread-safe); it holds at most one batch in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pen.batches import GENESIS_HASH
from station_agent.journal import Journal
from station_agent.records import AgentNote, PenContext, note_record
from station_agent.uploader import Uploader, UploadResult

UPLOAD_INTERVAL_S = 2.0
"""The linger of the upload policy (:class:`UploadLoop`): after a batch that was not
full, or when nothing was waiting, the next upload starts this long after the last
one started. A pen writing without pause thus goes up as one batch of 2 s of
writing (~200 points, ~15 KB) every 2 s; a backlog (full batches) goes back to back;
closing (:func:`flush`) sends everything at once. Why this value:
docs/station-protocol.md ("When the agent uploads"); measured: docs/benchmarks.md."""
UNAVAILABLE_WAIT_S = 10.0
"""Pause after the centre did not answer (the uploader's own retries exhausted) or
refused a batch."""

STATION_CLOSED = "StationClosed"
"""Kind of the agent note that says the president closed the station (the centre reads it)."""


def note_closed(journal: Journal, now_ms: int) -> bool:
    """Journal a :data:`STATION_CLOSED` note, unless the journal already ends with one.

    Closing again with nothing new (a retry after the centre was unreachable) adds
    nothing, so the chain head and the closing code stay the same; events journaled
    after a close are followed by a new note at the next close. True if one was added.
    """
    last = journal.entries("1 ORDER BY id DESC LIMIT 1")
    if last and last[0].event.source == "agent" and last[0].event.kind == STATION_CLOSED:
        return False
    note = AgentNote(STATION_CLOSED, "", {"closed_at_ms": now_ms})
    return (
        journal.record(None, now_ms, [note_record(note, PenContext(), f"agent:closed:{now_ms}")])
        == 1
    )


def acked_head(uploader: Uploader) -> tuple[int, str]:
    """(seq, hash) of the last batch the centre acknowledged; (0, genesis) if none."""
    head = uploader.head()
    if head is None:
        return 0, GENESIS_HASH
    if uploader.journal.uploaded_upto() >= head.upto_event_id:
        return head.seq, head.hash
    prev = uploader._row("WHERE seq = ?", (head.seq - 1,))  # at most one batch is unacked
    return (0, GENESIS_HASH) if prev is None else (prev.seq, prev.hash)


@dataclass(frozen=True, slots=True)
class FlushResult:
    complete: bool
    """Every journalled event is acknowledged by the centre."""
    backlog: int
    last: UploadResult
    head_seq: int
    head_hash: str


def flush(
    uploader: Uploader, now_ms: Callable[[], int] | None = None, max_steps: int = 1_000_000
) -> FlushResult:
    """Upload until the journal is empty, the centre is unreachable, or it refuses."""
    clock = now_ms or (lambda: int(time.time() * 1000))
    last = UploadResult("idle")
    for _ in range(max_steps):
        last = uploader.step(clock())
        if not last.acked:
            break
    backlog = uploader.journal.backlog()
    seq, head = acked_head(uploader)
    return FlushResult(backlog == 0 and last.status == "idle", backlog, last, seq, head)


@dataclass(frozen=True, slots=True)
class UploadStatus:
    backlog: int
    last_ack_seq: int | None
    last_ack_ms: int | None
    last_status: str
    seq: int | None = None
    """The batch this step was about."""
    code: str = ""
    """The centre's error code when it refused (``PEN.703``...)."""


class UploadLoop(threading.Thread):
    """Step ``make_uploader()``'s uploader until ``stop`` is set; report after each step.

    The upload policy, after each step:

    - a full batch acknowledged (a backlog, e.g. after an outage): the next at once;
    - a batch that was not full acknowledged, or nothing to send: the next step starts
      ``interval_s`` (:data:`UPLOAD_INTERVAL_S`) after this one started (the linger),
      so a pen writing without pause sends one batch per interval, not one per round
      trip;
    - the centre did not answer or refused: the next in :data:`UNAVAILABLE_WAIT_S`.

    ``monotonic`` (seconds) times the linger; ``stop`` interrupts any pause.
    """

    def __init__(
        self,
        make_uploader: Callable[[], Uploader],
        stop: threading.Event,
        on_status: Callable[[UploadStatus], None],
        clock_ms: Callable[[], int] | None = None,
        *,
        interval_s: float = UPLOAD_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="uploader", daemon=True)
        self._clock = clock_ms or (lambda: int(time.time() * 1000))
        self._make = make_uploader
        self._stop_event = stop
        self._on_status = on_status
        self._interval_s = interval_s
        self._monotonic = monotonic

    def run(self) -> None:
        uploader = self._make()
        last_seq: int | None = None
        last_ms: int | None = None
        try:
            while not self._stop_event.is_set():
                started = self._monotonic()
                now = self._clock()
                result = uploader.step(now)
                if result.acked:
                    last_seq, last_ms = result.seq, now
                backlog = uploader.journal.backlog()
                self._on_status(
                    UploadStatus(backlog, last_seq, last_ms, result.status, result.seq, result.code)
                )
                if result.acked and result.full:
                    continue
                if result.acked or result.status == "idle":
                    linger = started + self._interval_s - self._monotonic()
                    self._stop_event.wait(max(0.0, linger))
                else:
                    self._stop_event.wait(UNAVAILABLE_WAIT_S)
        finally:
            uploader.close()
            uploader.journal.close()
