"""Group commit: the writes that queue up while one transaction commits share the next one.

Callers :meth:`~GroupCommit.submit` items and get a future. One writer thread
(started when items arrive, gone when none are left) takes *all* pending items,
writes them in one transaction, commits, and only then resolves their futures.
So an acknowledgement still means "on disk", while the fsync (SQLite WAL
``synchronous=FULL``, PostgreSQL's WAL flush), the BEGIN/COMMIT round trips and
the thread switches are shared by every batch that arrived meanwhile, however
many requests are waiting (an asyncio handler awaits the future without holding
a thread).

:meth:`~GroupCommit.exclusive` holds the commit lock for this process's other
writes to the same tables, so that they queue here and not in SQLite's busy
handler, which sleeps in steps of up to 100 ms.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Generic, TypeVar

import structlog
from sqlalchemy import Connection, Engine

log = structlog.get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Run ``write(conn, items) -> results`` over groups of items, one transaction per group.

    ``failed`` is every item's result when the group's transaction raises: the
    callers then decide their item alone (their slow path), so that one bad item
    does not fail the others and each caller meets the error itself.
    """

    def __init__(self, write: Callable[[Connection, list[T]], list[R]], failed: R) -> None:
        self._write = write
        self._failed = failed
        self._pending: list[tuple[T, Future[R]]] = []
        self._engine: Engine | None = None
        self._writing = False
        self._lock = threading.Lock()
        """Guards ``_pending``, ``_engine`` and ``_writing``."""
        self._commit_lock = threading.Lock()

    def submit(self, engine: Engine, item: T) -> Future[R]:
        """Queue ``item``; the future resolves once its group has committed (or failed)."""
        done: Future[R] = Future()
        with self._lock:
            self._pending.append((item, done))
            self._engine = engine
            if not self._writing:
                self._writing = True
                threading.Thread(target=self._drain, name="group-commit", daemon=True).start()
        return done

    def run(self, engine: Engine, item: T) -> R:
        """:meth:`submit` and wait."""
        return self.submit(engine, item).result()

    def _drain(self) -> None:
        conn: Connection | None = None  # held while groups keep coming: no checkout, no ping
        try:
            while True:
                with self._lock:
                    group, self._pending = self._pending, []
                    engine = self._engine
                    if not group or engine is None:
                        self._writing = False
                        self._engine = None  # hold no engine while idle
                        return
                with self._commit_lock:
                    try:
                        if conn is None:
                            conn = engine.connect()
                        with conn.begin():
                            results = self._write(conn, [item for item, _ in group])
                    except Exception as exc:  # no detail: parameters may hold personal data
                        log.warning(
                            "group_commit.failed", error=type(exc).__name__, items=len(group)
                        )
                        results = [self._failed] * len(group)
                        if conn is not None:  # it may be broken (a restarted database)
                            conn.invalidate()
                            conn.close()
                            conn = None
                for (_, done), result in zip(group, results, strict=True):
                    done.set_result(result)
        finally:
            if conn is not None:
                conn.close()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the commit lock: no group commits in this process meanwhile."""
        with self._commit_lock:
            yield
