"""The pipeline driver: assemble new batches, mark ready fields, have them read, re-check.

:class:`Pipeline` is the background loop of the service (started and stopped
in the app's lifespan, :mod:`ingest.app`); :func:`run_once` is the same work
done once, synchronously, for tests and the command line. An error in a step
is logged (its class only: messages may quote stored data) and the step is
tried again on the next turn, after a pause; the loop itself never dies of it.

Reads go to :mod:`ingest.workers` (local pool or Celery). The driver keeps the
fields in flight in memory so it does not submit one twice; a field whose read
failed, or that got more ink meanwhile, is still ``ready``/``pending`` in the
database and is submitted again later. Each turn ends with the re-checks that
are due (:mod:`ingest.rechecks`: a station closed or had a batch rejected, the
results deadline passed, review changed a PV value). Run one driver per database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import structlog
from sqlalchemy import Engine

from ingest.assembly import assemble, mark_ready, ready_groups
from ingest.rechecks import recheck
from ingest.settings import Settings
from ingest.workers import Handle, Workers, make_workers

log = structlog.get_logger(__name__)

#: Longest wait for one read in :func:`run_once`.
READ_TIMEOUT_S = 300.0


@dataclass(slots=True)
class RunStats:
    """What a pass of the pipeline did."""

    batches: int = 0
    strokes: int = 0
    flagged: int = 0
    ready: int = 0
    read: int = 0
    failed: int = 0
    transmissions: int = 0
    """Stations whose chain and transmission were checked."""
    rechecked: int = 0
    """PVs reconciled again after review changed a value."""


def run_once(
    engine: Engine,
    settings: Settings,
    *,
    workers: Workers | None = None,
    at_ms: int | None = None,
) -> RunStats:
    """Assemble every stored batch, mark idle pages ready, read every ready field and wait,
    then run the re-checks that are due."""
    own = workers is None
    w = workers if workers is not None else make_workers(engine, settings)
    stats = RunStats()
    try:
        done = assemble(engine, settings, max_batches=10**9, at_ms=at_ms)
        stats.batches, stats.strokes, stats.flagged = done.batches, done.strokes, done.flagged
        stats.ready = mark_ready(engine, settings, at_ms=at_ms)
        handles = [(len(g), w.submit(g)) for g in ready_groups(engine, limit=10**9)]
        for n, h in handles:
            h.wait(READ_TIMEOUT_S)
            if h.error() is None:
                stats.read += n
            else:
                stats.failed += n
                log.error("read.error", error=type(h.error()).__name__)
        while True:
            checked = recheck(engine, settings, at_ms=at_ms)
            stats.transmissions += checked.transmissions
            stats.rechecked += checked.pvs
            if not checked.moved:
                break
    finally:
        if own:
            w.close()
    return stats


class Pipeline:
    """The background loop: one thread, stoppable, that never dies of a step's error."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: Workers | None = None
        self._in_flight: dict[int, Handle] = {}
        """Field id -> the handle of the read it is part of."""
        self.turns = 0
        self.errors = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._workers = make_workers(self.engine, self.settings)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="plume-pipeline", daemon=True)
        self._thread.start()
        log.info("pipeline.started", workers=self.settings.workers)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the loop, let reads in flight finish, release the workers."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._workers is not None:
            self._workers.close()
            self._workers = None
        log.info("pipeline.stopped", turns=self.turns, errors=self.errors)

    def _run(self) -> None:
        pause = self.settings.pipeline_interval_s
        while not self._stop.is_set():
            try:
                busy = self.step()
                pause = self.settings.pipeline_interval_s
            except Exception as exc:  # logged and retried: the loop must outlive any step
                self.errors += 1
                log.error("pipeline.error", error=type(exc).__name__)
                busy = False
                pause = min(30.0, max(pause, 0.1) * 2)
            self.turns += 1
            if not busy:
                self._stop.wait(pause)

    def step(self) -> bool:
        """One turn; True if it found work (the loop goes on at once)."""
        assert self._workers is not None
        done = assemble(self.engine, self.settings, max_batches=50)
        marked = mark_ready(self.engine, self.settings)
        finished = {id(h): h for h in self._in_flight.values() if h.done()}
        for h in finished.values():
            if h.error() is not None:
                self.errors += 1
                log.error("read.error", error=type(h.error()).__name__)
        self._in_flight = {k: h for k, h in self._in_flight.items() if id(h) not in finished}
        submitted = 0
        room = 4 * self.settings.worker_count - len({id(h) for h in self._in_flight.values()})
        if room > 0:
            for group in ready_groups(self.engine, limit=1000):
                todo = [pk for pk in group if pk not in self._in_flight]
                if not todo or submitted >= room:
                    continue
                h = self._workers.submit(todo)
                self._in_flight.update(dict.fromkeys(todo, h))
                submitted += 1
        checked = recheck(self.engine, self.settings)
        return bool(done.batches or marked or submitted or checked.moved)
