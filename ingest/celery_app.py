"""The Celery app of scale-out mode: the digitisation task on workers over Redis.

One task, :data:`TASK`, runs the same :func:`ingest.digitise.digitise_fields`
as the local pool: it takes the ids of fields (the ready fields of one page),
loads their ink from the database, reads them and stores the results. Broker and result backend are
``Settings.redis_url``. Start workers with the same ``PLUME_`` settings as
the service (database URL, contact key, Redis URL)::

    celery -A ingest.celery_app worker --concurrency 2

``app`` is built on first access from the environment (nothing connects
until a task is sent or a worker starts).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery
from sqlalchemy import Engine

from ingest.db import make_engine
from ingest.settings import Settings

TASK = "plume.digitise_fields"


def create_celery(settings: Settings, engine: Engine | None = None) -> Celery:
    """A Celery app whose :data:`TASK` reads fields into ``settings.database_url``."""
    app = Celery("plume", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # a worker that dies mid-read leaves the task to another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    engines: dict[str, Engine] = {} if engine is None else {"engine": engine}

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def digitise(field_pks: list[int]) -> dict[str, str]:
        from ingest.digitise import digitise_fields

        if "engine" not in engines:
            engines["engine"] = make_engine(settings.database_url)
        done = digitise_fields(engines["engine"], settings, [int(pk) for pk in field_pks])
        return {str(pk): what for pk, what in done.items()}

    return app


@cache
def _default_app() -> Celery:
    return create_celery(Settings())


def __getattr__(name: str) -> Any:
    if name == "app":  # ``celery -A ingest.celery_app``
        return _default_app()
    raise AttributeError(name)
