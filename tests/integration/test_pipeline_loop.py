"""The pipeline as the service runs it: started by the app's lifespan, fed over real HTTP,
stopped cleanly; and a loop that outlives errors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select

from hardware_sim.scenarios import StationRun, count_value, simulate_station
from hardware_sim.stations import pick_stations
from ingest.app import create_app
from ingest.db import FieldInk, PvResult, Reading, create_schema, make_engine, session
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from pen.batches import BatchEvent
from plume.sim_kits import create_sim_kits
from tests.live_ingest import free_port
from tests.pipeline_sim import close_event, enrol_station, session_events, signed_bodies, upload


def _until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _pv_events(seed: int) -> tuple[StationRun, list[BatchEvent]]:
    station = pick_stations(1, seed=seed)[0]
    run = simulate_station(station, "honest", seed=seed)
    events: list[BatchEvent] = []
    for data in run.uploads:
        events += session_events(data, first_id=len(events) + 1)
    return run, events


def test_the_service_reads_what_stations_upload(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    settings = Settings(database_url=url, field_idle_s=0.3, pipeline_interval_s=0.05)
    run, events = _pv_events(51)
    sid = run.station.id
    setup = make_engine(url)
    create_schema(setup)
    codes = create_sim_kits(setup, [run.station], contact_sheets=1)
    key = enrol_station(setup, sid, codes[sid])

    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert _until(lambda: server.started, 10)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            # No closing note: the PV page is complete once it has been idle.
            for body in signed_bodies(sid, key, events, per_batch=150):
                r = http.post(
                    f"/v1/stations/{sid}/batches",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                assert r.status_code == 201, r.text

        def all_read() -> bool:
            with session(setup) as s:
                total = s.scalar(select(func.count()).select_from(FieldInk)) or 0
                unread = s.scalar(select(func.count()).where(FieldInk.state != "read"))
                return total > 0 and unread == 0 and s.get(PvResult, sid) is not None

        assert _until(all_read, 60), "the pipeline did not read the PV"
        pipeline = app.state.pipeline
        assert isinstance(pipeline, Pipeline)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert pipeline._thread is None  # stopped by the lifespan
    with session(setup) as s:
        result = s.get(PvResult, sid)
        assert result is not None
        for fid, value in result.values.items():
            if value is not None:
                assert value == count_value(run.written_counts, fid)


def test_the_loop_outlives_errors_and_catches_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    settings = Settings(database_url=url, pipeline_interval_s=0.02)
    engine = make_engine(url)
    pipeline = Pipeline(engine, settings)
    pipeline.start()
    try:
        # No tables yet: every turn fails (a real error from the database), the loop lives on.
        assert _until(lambda: pipeline.errors >= 2, 20)
        assert pipeline._thread is not None and pipeline._thread.is_alive()
        create_schema(engine)
        run, events = _pv_events(52)
        sid = run.station.id
        codes = create_sim_kits(engine, [run.station], contact_sheets=1)
        key = enrol_station(engine, sid, codes[sid])
        events.append(close_event(len(events) + 1))
        upload(engine, sid, signed_bodies(sid, key, events))

        def read() -> bool:
            with session(engine) as s:
                return (s.scalar(select(func.count()).select_from(Reading)) or 0) >= 13

        assert _until(read, 60)
    finally:
        pipeline.stop()
    assert pipeline._thread is None
