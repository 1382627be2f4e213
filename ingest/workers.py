"""Where ready fields are read: an in-process pool, or Celery workers over Redis.

One code path: the pipeline submits groups of field ids (the ready fields of
one page) to :class:`Workers` and polls the handles; both kinds run
:func:`ingest.digitise.digitise_fields`.
``Settings.workers`` chooses: ``local`` (default, a thread pool of
``worker_count``; recognition is numpy and releases the GIL in its heavy
parts) or ``celery`` (:mod:`ingest.celery_app`, ``Settings.redis_url``).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any, Protocol

from sqlalchemy import Engine

from ingest.digitise import digitise_fields
from ingest.settings import Settings


class Handle(Protocol):
    """A submitted read."""

    def done(self) -> bool: ...

    def wait(self, timeout_s: float) -> None:
        """Block until done (an error of the read is not raised here: see :meth:`error`)."""

    def error(self) -> BaseException | None:
        """What the read raised (a :class:`TimeoutError` while it is not done), or None."""


class Workers(Protocol):
    def submit(self, field_pks: list[int]) -> Handle: ...

    def close(self) -> None: ...


class _FutureHandle:
    def __init__(self, future: Future[dict[int, str]]) -> None:
        self.future = future

    def done(self) -> bool:
        return self.future.done()

    def wait(self, timeout_s: float) -> None:
        with contextlib.suppress(FuturesTimeout):
            self.future.exception(timeout=timeout_s)

    def error(self) -> BaseException | None:
        if not self.future.done():
            return TimeoutError("the read is not done")
        return self.future.exception()


class LocalWorkers:
    """A thread pool in this process."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._pool = ThreadPoolExecutor(settings.worker_count, thread_name_prefix="plume-read")

    def submit(self, field_pks: list[int]) -> _FutureHandle:
        return _FutureHandle(
            self._pool.submit(digitise_fields, self._engine, self._settings, field_pks)
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _CeleryHandle:
    def __init__(self, result: Any) -> None:
        self.result = result

    def done(self) -> bool:
        return bool(self.result.ready())

    def wait(self, timeout_s: float) -> None:
        from celery.exceptions import TimeoutError as CeleryTimeout

        with contextlib.suppress(CeleryTimeout):
            self.result.get(timeout=timeout_s, propagate=False)

    def error(self) -> BaseException | None:
        if not self.result.ready():
            return TimeoutError("the read is not done")
        if self.result.failed():
            exc = self.result.result
            return exc if isinstance(exc, BaseException) else RuntimeError(str(type(exc)))
        return None


class CeleryWorkers:
    """Celery workers reached through Redis (``Settings.redis_url``)."""

    def __init__(self, settings: Settings) -> None:
        from ingest.celery_app import TASK, create_celery

        self.app = create_celery(settings)
        self._task = self.app.tasks[TASK]

    def submit(self, field_pks: list[int]) -> _CeleryHandle:
        return _CeleryHandle(self._task.delay(field_pks))

    def close(self) -> None:
        self.app.close()


def make_workers(engine: Engine, settings: Settings) -> LocalWorkers | CeleryWorkers:
    """The workers ``settings.workers`` names."""
    if settings.workers == "celery":
        return CeleryWorkers(settings)
    return LocalWorkers(engine, settings)
