"""Transmission findings and review re-checks, through the real app on SQLite (and PostgreSQL).

A simulated station (hardware_sim) enrols and sends signed batches over the
app's HTTP API; the pipeline runs once (``run_once``, the loop's work done
synchronously). Checked: closing runs the chain and transmission rules;
rejected batches become findings by reason; the results deadline turns a
missing PV and an unclosed station into findings that go away when they no
longer hold, unless a person started on them; a PV value decided in review
is reconciled again.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from hardware_sim.scenarios import CLOSING_MS, StationRun, count_value, simulate_station
from hardware_sim.stations import pick_stations
from ingest.app import create_app
from ingest.db import FieldInk, FindingRow, PvResult, ReviewItem, session
from ingest.pipeline import run_once
from ingest.reconcile import TRANSMISSION_STAGE
from ingest.settings import Settings
from pen.batches import BatchEvent, encode_batch, make_batch, public_key_bytes, sign_batch
from plume.sim_kits import create_sim_kits
from tests.api_world import engine_of, make_users
from tests.pg import PG_URL, pg_reachable, reset_pg
from tests.pipeline_sim import close_event, session_events, signed_bodies

DEADLINE = CLOSING_MS + 4 * 3_600_000


@dataclass
class World:
    client: TestClient
    engine: Engine
    settings: Settings
    run: StationRun
    key: Ed25519PrivateKey

    @property
    def sid(self) -> str:
        return self.run.station.id

    def post(self, body: bytes) -> int:
        r = self.client.post(f"/v1/stations/{self.sid}/batches", content=body)
        return r.status_code

    def day(self, *, close: bool = True) -> list[bytes]:
        events: list[BatchEvent] = []
        for data in self.run.uploads:
            events += session_events(data, first_id=len(events) + 1)
        if close:
            events.append(close_event(len(events) + 1))
        return signed_bodies(self.sid, self.key, events, per_batch=200)

    def findings(self, stage: str = TRANSMISSION_STAGE) -> dict[str, FindingRow]:
        with session(self.engine) as s:
            rows = s.scalars(select(FindingRow).where(FindingRow.station_id == self.sid))
            return {r.code: r for r in rows if r.evidence.get("stage") == stage}


def _world(tmp_path: Path, url: str | None = None, **settings: object) -> Iterator[World]:
    url = url or f"sqlite:///{tmp_path / 'ingest.db'}"
    cfg = Settings(database_url=url, **{"pipeline_enabled": False, **settings})
    station = pick_stations(1, seed=23)[0]
    run = simulate_station(station, "honest", seed=3)
    with TestClient(create_app(cfg)) as client:
        engine = engine_of(client)
        code = create_sim_kits(engine, [station], contact_sheets=5)[station.id]
        key = Ed25519PrivateKey.generate()
        pub = base64.b64encode(public_key_bytes(key)).decode()
        r = client.post(f"/v1/stations/{station.id}/enrol", json={"code": code, "public_key": pub})
        assert r.status_code == 201, r.text
        yield World(client, engine, cfg, run, key)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    url = None
    if request.param == "postgres":
        if not pg_reachable():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        reset_pg(PG_URL)
        url = PG_URL
    yield from _world(tmp_path, url, results_deadline_ms=DEADLINE)


def test_closing_checks_the_chain_and_rejections_become_findings_by_reason(world: World) -> None:
    bodies = world.day()
    assert [world.post(b) for b in bodies] == [201] * len(bodies)
    stats = run_once(world.engine, world.settings, at_ms=CLOSING_MS + 3_600_000)
    assert stats.transmissions == 1  # the close note was seen and the station checked
    assert world.findings() == {}  # an honest, closed station before the deadline

    # An old batch again (replay), another content for a stored seq (fork), a batch
    # signed with another key (bad signature): each refused over HTTP and stored.
    assert world.post(bodies[0]) == 409
    other = make_batch(world.sid, 1, "00" * 32, [BatchEvent(b"", {"kind": "x"})], 1)
    assert world.post(encode_batch(sign_batch(other, world.key))) == 409
    intruder = Ed25519PrivateKey.generate()
    forged = make_batch(world.sid, len(bodies) + 1, "00" * 32, [], 1)
    assert world.post(encode_batch(sign_batch(forged, intruder))) == 403
    stats = run_once(world.engine, world.settings, at_ms=CLOSING_MS + 3_600_000)
    assert stats.transmissions == 1
    found = world.findings()
    assert set(found) == {"W.405", "F.403", "F.404"}
    assert found["F.404"].evidence["seqs"] == [len(bodies) + 1]
    assert found["F.403"].severity == "error" and found["W.405"].severity == "warning"
    with session(world.engine) as s:
        items = s.scalars(select(ReviewItem).where(ReviewItem.kind == "finding")).all()
    assert sorted(i.ref_id for i in items) == sorted(
        [found["F.403"].id, found["F.404"].id]
    )  # errors need a person

    # Idempotent: another rejection of the same kind updates the row, adds none.
    assert world.post(bodies[-1]) == 200  # the head again: a duplicate, acknowledged
    assert world.post(bodies[0]) == 409
    run_once(world.engine, world.settings, at_ms=CLOSING_MS + 3_600_000)
    again = world.findings()
    assert set(again) == set(found)  # the duplicate is nothing
    assert again["W.405"].id == found["W.405"].id and again["W.405"].evidence["count"] == 2
    h = make_users(world.engine)["ha"]
    api = world.client.get(f"/v1/findings?station_id={world.sid}&code=F.404", headers=h).json()
    assert api["total"] == 1 and api["items"][0]["evidence"]["stage"] == TRANSMISSION_STAGE


def test_the_deadline_flags_a_missing_pv_until_it_comes(world: World) -> None:
    run_once(world.engine, world.settings, at_ms=DEADLINE - 1)
    assert world.findings() == {}  # before the deadline nothing is late
    stats = run_once(world.engine, world.settings, at_ms=DEADLINE)
    assert stats.transmissions == 1
    found = world.findings()
    assert set(found) == {"F.410", "W.412"}
    assert found["W.412"].evidence["last_batch_ms"] is None
    assert run_once(world.engine, world.settings, at_ms=DEADLINE + 1).transmissions == 0  # once

    with session(world.engine) as s, s.begin():  # a person has started on F.410
        row = s.get(FindingRow, found["F.410"].id)
        assert row is not None
        row.status = "in_review"
    bodies = world.day()
    assert [world.post(b) for b in bodies] == [201] * len(bodies)
    run_once(world.engine, world.settings, at_ms=DEADLINE + 60_000)
    with session(world.engine) as s:
        pv = s.get(PvResult, world.sid)
    assert pv is not None
    after = world.findings()
    assert "W.412" not in after  # it closed: the open finding went away
    assert after["F.410"].id == found["F.410"].id  # kept: a person is on it
    if pv.complete:
        assert "F.411" not in after
    else:
        assert "F.411" in after  # recognition left counts to review: still incomplete


def test_without_a_deadline_no_station_is_late(tmp_path: Path) -> None:
    for w in _world(tmp_path):
        run_once(w.engine, w.settings, at_ms=DEADLINE * 2)
        assert w.findings() == {}


def _unread(engine: Engine) -> set[str]:
    """The fields named by W.010 findings (a value not read)."""
    with session(engine) as s:
        rows = s.scalars(select(FindingRow).where(FindingRow.code == "W.010"))
        return {field for r in rows for field in r.fields}


def test_a_value_decided_in_review_is_reconciled_again(tmp_path: Path) -> None:
    """Every reading goes to review (threshold 1); reviewers key a wrong valid total."""
    for w in _world(tmp_path, review_threshold=1.0):
        bodies = w.day()
        assert [w.post(b) for b in bodies] == [201] * len(bodies)
        run_once(w.engine, w.settings, at_ms=CLOSING_MS + 3_600_000)
        with session(w.engine) as s:
            pv = s.get(PvResult, w.sid)
            assert pv is not None and not pv.complete
            counts = list(pv.values)
            items = {
                f.field_id: i.id
                for i, f in s.execute(
                    select(ReviewItem, FieldInk)
                    .join(FieldInk, FieldInk.id == ReviewItem.ref_id)
                    .where(ReviewItem.kind == "reading", FieldInk.field_id.in_(counts))
                )
            }
        assert set(items) == set(counts)
        waiting = set(w.findings("reconciliation"))
        assert set(counts) <= _unread(w.engine)  # W.010 each: waiting for review
        assert not waiting & {"F.202", "F.203"}  # so the sums were skipped
        written = {k: count_value(w.run.written_counts, k) for k in counts}
        keyed = {**written, "valid": written["valid"] + 3}
        h = make_users(w.engine)
        for field_id, item in items.items():
            for reviewer in ("rev1", "rev2"):
                r = w.client.post(
                    f"/v1/review/{item}/keyings",
                    json={"value": str(keyed[field_id])},
                    headers=h[reviewer],
                )
                assert r.status_code == 201, r.text
        with session(w.engine) as s:
            pv = s.get(PvResult, w.sid)
            assert pv is not None and pv.complete and pv.values == keyed
        assert set(w.findings("reconciliation")) == waiting  # review alone reconciles nothing
        stats = run_once(w.engine, w.settings, at_ms=CLOSING_MS + 3_700_000)
        assert stats.rechecked == 1
        found = w.findings("reconciliation")
        assert {"F.202", "F.203"} <= set(found)  # valid no longer adds up either way
        assert not _unread(w.engine) & set(counts)  # every count has its decided value now
        assert found["F.202"].evidence["difference"] == -3
        with session(w.engine) as s:
            pv = s.get(PvResult, w.sid)
            assert pv is not None and pv.values == keyed  # recomputed from the decisions


def test_the_service_loop_checks_a_station_whose_batch_was_rejected(tmp_path: Path) -> None:
    """The app's own pipeline loop (not ``run_once``) runs the re-checks."""
    for w in _world(tmp_path, pipeline_enabled=True, pipeline_interval_s=0.05):
        assert [w.post(b) for b in w.day()] == [201, 201]
        forged = make_batch(w.sid, 3, "00" * 32, [], 1)
        assert w.post(encode_batch(sign_batch(forged, Ed25519PrivateKey.generate()))) == 403
        deadline = time.monotonic() + 60
        while "F.404" not in w.findings() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(w.findings()) == {"F.404"}
