"""The Celery path of digitisation against the real Redis (db 5) and a real Celery worker.

The worker (celery.contrib.testing.worker.start_worker: a real worker thread
consuming from the real broker) and the pipeline share one SQLite file; the
pipeline runs with ``workers="celery"``, so every field is sent through
Redis, read by the worker and stored, exactly as in scale-out mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

from hardware_sim.scenarios import count_value, simulate_station
from hardware_sim.stations import pick_stations
from ingest.celery_app import create_celery
from ingest.db import FieldInk, PvResult, Reading, create_schema, make_engine, session
from ingest.pipeline import run_once
from ingest.settings import Settings
from plume.sim_kits import create_sim_kits
from tests.pipeline_sim import close_event, enrol_station, session_events, signed_bodies, upload

REDIS_URL = "redis://127.0.0.1:6379/5"


@pytest.mark.redis
def test_fields_are_read_by_a_celery_worker_over_redis(tmp_path: Path) -> None:
    broker = redis.Redis.from_url(REDIS_URL)
    try:
        broker.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    broker.flushdb()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ingest.db'}", workers="celery", redis_url=REDIS_URL
    )
    engine = make_engine(settings.database_url)
    create_schema(engine)
    station = pick_stations(1, seed=41)[0]
    run = simulate_station(station, "honest", seed=4)
    codes = create_sim_kits(engine, [station], contact_sheets=1)
    key = enrol_station(engine, station.id, codes[station.id])
    events = []
    for data in run.uploads:
        events += session_events(data, first_id=len(events) + 1)
    events.append(close_event(len(events) + 1))
    upload(engine, station.id, signed_bodies(station.id, key, events))

    worker_app = create_celery(settings, make_engine(settings.database_url))
    with start_worker(worker_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        stats = run_once(engine, settings)
    assert stats.failed == 0 and stats.read > 0
    with session(engine) as s:
        unread = s.scalar(select(func.count()).where(FieldInk.state != "read"))
        n_readings = s.scalar(select(func.count()).select_from(Reading))
        result = s.get(PvResult, station.id)
    assert unread == 0
    assert n_readings is not None and n_readings >= 13  # 12 counts and the closing time
    assert result is not None
    for fid, value in result.values.items():
        if value is not None:
            assert value == count_value(run.written_counts, fid)
    # Every read went through Redis: the worker stored each task's outcome per field there.
    outcomes: dict[str, str] = {}
    for k in broker.keys("celery-task-meta-*"):
        meta = json.loads(broker.get(k))  # type: ignore[arg-type]
        assert meta["status"] == "SUCCESS"
        outcomes.update(meta["result"])
    assert len(outcomes) == stats.read
    assert set(outcomes.values()) <= {"read", "skipped"} and "read" in outcomes.values()
    broker.flushdb()
