"""The pipeline on PostgreSQL: a simulated station's PV read into a result, and a rerun
after a crash that stores nothing twice (row locks, sequences and JSON as PostgreSQL does them).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from hardware_sim.scenarios import count_value, simulate_station
from hardware_sim.stations import pick_stations
from ingest.assembly import assemble
from ingest.db import Base, FieldInk, InkStroke, PipelineCursor, PvResult, make_engine, session
from ingest.pipeline import run_once
from ingest.settings import Settings
from plume.sim_kits import create_sim_kits
from tests.pg import PG_URL
from tests.pipeline_sim import close_event, enrol_station, session_events, signed_bodies, upload

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[Engine]:
    engine = make_engine(PG_URL)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_pv_is_read_into_a_result_on_postgresql(pg: Engine) -> None:
    settings = Settings(database_url=PG_URL)
    station = pick_stations(1, seed=61)[0]
    run = simulate_station(station, "honest", seed=6)
    codes = create_sim_kits(pg, [station], contact_sheets=3)
    key = enrol_station(pg, station.id, codes[station.id])
    events = []
    for data in run.uploads:
        events += session_events(data, first_id=len(events) + 1)
    events.append(close_event(len(events) + 1))
    upload(pg, station.id, signed_bodies(station.id, key, events, per_batch=60))

    first = assemble(pg, settings, max_batches=2)
    assert first.batches == 2
    with session(pg) as s:  # a crash here: the cursor says where to go on
        cursor = s.get(PipelineCursor, "assembly")
        assert cursor is not None and cursor.last_id > 0
    stats = run_once(pg, settings)
    assert stats.failed == 0
    with session(pg) as s:
        n = s.scalar(select(func.count()).select_from(InkStroke))
        distinct = s.scalar(
            select(func.count()).select_from(
                select(InkStroke.pen_serial, InkStroke.t_start_ms, InkStroke.points)
                .distinct()
                .subquery()
            )
        )
        unread = s.scalar(select(func.count()).where(FieldInk.state != "read"))
        result = s.get(PvResult, station.id)
    assert n == distinct == len(run.ink)
    assert unread == 0
    assert result is not None and result.departement == station.departement
    confident = [v for v in result.values.values() if v is not None]
    assert confident
    for fid, value in result.values.items():
        if value is not None:
            assert value == count_value(run.written_counts, fid)
