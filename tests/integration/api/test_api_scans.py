"""Scanned paper PVs over HTTP on SQLite and PostgreSQL: store, read, compare with the pen.

The scans are real images: hardware_sim.paper.scan_run renders the station's
paper PV (its printed QR code and id, the ink on paper, alterations made after
capture included) and scans it (rotation, blur, noise, JPEG). The centre's PV
values are the pen's (``written_counts``), stored as the pipeline would.
The scan reader is wrong with confidence on about 0.5% of fields (docs/ocr.md),
enough for a false F.301 on ~3% of honest stations: these seeded scans are
ones it reads exactly, so the tests are about ingest, not the reader's rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from hardware_sim.paper import scan_run
from hardware_sim.scenarios import StationRun, simulate_station
from hardware_sim.stations import pick_stations
from ingest.app import create_app
from ingest.audit import verify_audit
from ingest.auth import create_user
from ingest.db import (
    AuditEntry,
    FindingRow,
    InkStroke,
    PvResult,
    PvScan,
    PvScanField,
    ReviewItem,
    StoredBatch,
    session,
)
from ingest.reconcile import store_paper_findings
from ingest.settings import Settings
from ingest.stations import create_kits
from ocr import read_pen_ink
from pen.forms import assign, load_form
from pen.ink import Stroke

PV = load_form("pv")
HONEST, ALTERED, OTHER = pick_stations(6, seed=11)[:3]
MAX_SCAN = 2_000_000


@cache
def run(station_index: int, scenario: str) -> StationRun:
    station = (HONEST, ALTERED, OTHER)[station_index]
    return simulate_station(station, scenario, seed=40 + station_index, layout=PV)


@cache
def jpeg(station_index: int, scenario: str) -> bytes:
    return scan_run(run(station_index, scenario), seed=station_index).jpeg


def pen_values(r: StationRun) -> dict[str, int | None]:
    texts = r.written_counts.fields()
    return {k: int(v) for k, v in texts.items() if k != "closing_time"}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, max_scan_bytes=MAX_SCAN))
    with TestClient(app) as c:
        yield c


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def world(engine: Engine) -> dict[str, dict[str, str]]:
    """The three stations with the pen's PV values, and users; name -> headers."""
    create_kits(engine, [HONEST.id, ALTERED.id, OTHER.id])
    with session(engine) as s, s.begin():
        for i, scenario in ((0, "honest"), (1, "paper_alteration")):
            r = run(i, scenario)
            s.add(
                PvResult(
                    station_id=r.station.id,
                    departement=r.station.id[:2],
                    values=pen_values(r),
                    confidence=0.99,
                    complete=True,
                    updated_ms=1,
                )
            )
    other_dep = "13" if ALTERED.id[:2] != "13" else "75"
    users = {
        "ha": ("high_authority", None, None),
        "fed": ("federation", ALTERED.id[:2], None),
        "fed_other": ("federation", other_dep, None),
        "station": ("station", None, ALTERED.id),
        "reviewer": ("reviewer", None, None),
    }
    return {
        name: {
            "Authorization": "Bearer "
            + create_user(engine, name, role, departement=dep, station_id=sid)
        }
        for name, (role, dep, sid) in users.items()
    }


def post(
    client: TestClient, station: str, body: bytes, h: dict[str, str], kind: str = "image/jpeg"
) -> httpx.Response:
    r: httpx.Response = client.post(
        f"/v1/stations/{station}/pv-scan", content=body, headers={**h, "Content-Type": kind}
    )
    return r


def paper_findings(engine: Engine, station: str) -> list[FindingRow]:
    with session(engine) as s:
        rows = s.scalars(select(FindingRow).where(FindingRow.station_id == station)).all()
        return [r for r in rows if r.evidence.get("stage") == "paper"]


def test_an_honest_scan_is_read_and_raises_no_paper_finding(client: TestClient) -> None:
    engine = engine_of(client)
    h = world(engine)
    r = post(client, HONEST.id, jpeg(0, "honest"), h["ha"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["outcome"], body["warnings"]) == ("accepted", "read", [])
    assert body["station_id_read"]["text"] == HONEST.id
    read = {f["field_id"]: f["value"] for f in body["fields"]}
    assert read == {k: str(v) for k, v in pen_values(run(0, "honest")).items()}
    assert body["findings"] == [] and paper_findings(engine, HONEST.id) == []

    crop = client.get(body["fields"][0]["crop_url"], headers=h["ha"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/png"
    assert crop.content.startswith(b"\x89PNG")
    current = client.get(f"/v1/stations/{HONEST.id}/pv-scan", headers=h["reviewer"]).json()
    assert current["scan_id"] == body["scan_id"] and current["status"] == "current"
    assert verify_audit(engine).ok
    with session(engine) as s:
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "scan.upload" in actions


def test_a_paper_altered_after_capture_raises_a_finding_on_that_field(
    client: TestClient,
) -> None:
    engine = engine_of(client)
    h = world(engine)
    altered = run(1, "paper_alteration")
    field = str(altered.details["field"])
    r = post(client, ALTERED.id, jpeg(1, "paper_alteration"), h["fed"])
    assert r.status_code == 201, r.text
    found = {(f["code"], tuple(f["fields"])) for f in r.json()["findings"]}
    assert found & {("F.301", (field,)), ("W.302", (field,))}
    assert all(code == "W.302" for code, fields in found if fields != (field,))  # doubts only
    rows = [f for f in paper_findings(engine, ALTERED.id) if f.fields == [field]]
    assert len(rows) == 1 and rows[0].evidence["paper"] == str(altered.details["paper_value"])
    assert rows[0].evidence["pen"] == str(altered.details["written_value"])
    crop = client.get(str(rows[0].evidence["crop"]), headers=h["station"])
    assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")
    if rows[0].code == "F.301":
        with session(engine) as s:
            items = s.scalars(select(ReviewItem).where(ReviewItem.ref_id == rows[0].id)).all()
        assert [i.kind for i in items] == ["finding"]

    # the pen's value changes (a review, late ink): the paper check follows it
    with session(engine) as s, s.begin():
        pv = s.get(PvResult, ALTERED.id)
        assert pv is not None
        new = int(altered.details["paper_value"])
        pv.values = {**pv.values, field: new}
        store_paper_findings(s, ALTERED.id, 2)
    assert [f.fields for f in paper_findings(engine, ALTERED.id) if f.code == "F.301"] == []
    now = [f for f in paper_findings(engine, ALTERED.id) if f.fields == [field]]
    # at most a doubt (W.302: the uncertain reading agrees, an alternative does not)
    assert all(f.code == "W.302" and f.evidence["pen"] == str(new) for f in now)


def test_the_same_image_twice_is_one_scan(client: TestClient) -> None:
    engine = engine_of(client)
    h = world(engine)
    first = post(client, ALTERED.id, jpeg(1, "paper_alteration"), h["ha"])
    again = post(client, ALTERED.id, jpeg(1, "paper_alteration"), h["fed"])
    assert (first.status_code, again.status_code) == (201, 200)
    a, b = first.json(), again.json()
    assert b["status"] == "duplicate" and b["scan_id"] == a["scan_id"]
    assert [f["id"] for f in b["findings"]] == [f["id"] for f in a["findings"]]
    with session(engine) as s:
        assert len(s.scalars(select(PvScan)).all()) == 1
    assert len(paper_findings(engine, ALTERED.id)) == len(a["findings"])


def test_another_stations_sheet_is_refused_and_the_rejection_stored(client: TestClient) -> None:
    engine = engine_of(client)
    h = world(engine)
    r = post(client, ALTERED.id, jpeg(0, "honest"), h["fed"])  # HONEST's sheet, ALTERED's URL
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "OCR.404"
    assert (err["details"]["read"], err["details"]["expected"]) == (HONEST.id, ALTERED.id)
    with session(engine) as s:
        (row,) = s.scalars(select(PvScan)).all()
        assert (row.outcome, row.code, row.station_id) == ("rejected", "OCR.404", ALTERED.id)
        assert (row.detail["read"], row.detail["expected"]) == (HONEST.id, ALTERED.id)
        assert s.scalars(select(PvScanField)).all() == []
    assert paper_findings(engine, ALTERED.id) == []
    again = post(client, ALTERED.id, jpeg(0, "honest"), h["fed"])
    assert again.json()["error"]["code"] == "OCR.404"
    assert again.json()["error"]["details"]["status"] == "duplicate"
    none = client.get(f"/v1/stations/{ALTERED.id}/pv-scan", headers=h["ha"])
    assert none.status_code == 404


def test_garbage_wrong_types_and_oversized_bodies_are_refused(client: TestClient) -> None:
    engine = engine_of(client)
    h = world(engine)
    garbage = post(client, HONEST.id, b"\x89PNG not really" * 10, h["ha"], "image/png")
    assert garbage.status_code == 422
    assert garbage.json()["error"]["code"] == "OCR.401"
    text = post(client, HONEST.id, b"hello", h["ha"], "text/plain")
    assert text.status_code == 415
    assert text.json()["error"]["code"] == "SCAN.415"
    big = post(client, HONEST.id, b"\xff\xd8" + b"\0" * MAX_SCAN, h["ha"])
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "HTTP.413"
    with session(engine) as s:
        codes = sorted(str(r.code) for r in s.scalars(select(PvScan)))
    assert codes == ["OCR.401", "SCAN.415"]  # an oversized body is not read, so not kept


def test_who_may_upload_and_see(client: TestClient) -> None:
    engine = engine_of(client)
    h = world(engine)
    image = jpeg(1, "paper_alteration")
    for who in ("fed_other", "station", "reviewer"):
        r = post(client, ALTERED.id, image, h[who])
        assert r.status_code == 403, who
        assert r.json()["error"]["code"] == "AUTH.403"
    assert post(client, ALTERED.id, image, {}).status_code == 401
    with session(engine) as s:
        assert s.scalars(select(PvScan)).all() == []
    unknown = post(client, "75056-9999", image, h["ha"])
    assert unknown.status_code == 404
    assert post(client, ALTERED.id, image, h["ha"]).status_code == 201
    url = f"/v1/stations/{ALTERED.id}/pv-scan/crops/signatures"
    assert client.get(url, headers=h["fed_other"]).status_code == 404  # outside: as unknown
    assert client.get(url, headers=h["fed"]).status_code == 200
    assert client.get(url + "x", headers=h["fed"]).status_code == 404


def store_pen_ink(engine: Engine, r: StationRun) -> dict[str, list[Stroke]]:
    """The station's PV ink as the pipeline stores it (one stored batch holds it); by field."""
    fields = {k: list(v) for k, v in assign(r.ink, PV).fields.items()}
    with session(engine) as s, s.begin():
        batch = StoredBatch(
            station_id=r.station.id,
            seq=1,
            hash="a" * 64,
            prev_hash="0" * 64,
            format_version=1,
            created_ms=1,
            event_count=0,
            received_at_ms=1,
            body=b"{}",
        )
        s.add(batch)
        s.flush()
        for field_id, strokes in fields.items():
            for st in strokes:
                s.add(
                    InkStroke(
                        station_id=r.station.id,
                        batch_id=batch.id,
                        pen_serial=st.pen_serial,
                        page=str(st.page),
                        form="pv",
                        field_id=field_id,
                        t_start_ms=int(st.points[0, 2]),
                        t_end_ms=int(st.points[-1, 2]),
                        n_points=len(st.points),
                        points=np.ascontiguousarray(st.points, dtype="<f8").tobytes(),
                    )
                )
    return fields


def test_the_paper_rule_gets_the_pen_ink_read_as_on_paper(client: TestClient) -> None:
    """The centre reads each count's pen ink drawn as on paper (ocr.read_pen_ink): the
    finding says what it read, and a paper that reads as the pen's own ink is W.302."""
    engine = engine_of(client)
    h = world(engine)
    altered = run(1, "paper_alteration")
    field = str(altered.details["field"])
    ink = store_pen_ink(engine, altered)
    r = post(client, ALTERED.id, jpeg(1, "paper_alteration"), h["fed"])
    assert r.status_code == 201, r.text
    rows = [f for f in paper_findings(engine, ALTERED.id) if f.fields == [field]]
    assert len(rows) == 1
    boxes = [b.rect for b in PV.field(field).boxes]
    as_ink = read_pen_ink([st.points for st in ink[field]], boxes).text
    assert rows[0].evidence["pen_ink"] == as_ink
    if as_ink == rows[0].evidence["paper"]:
        assert rows[0].code == "W.302"
    # without the layout (no pen ink read) the finding carries no pen_ink
    with session(engine) as s, s.begin():
        store_paper_findings(s, ALTERED.id, 3)
    rows = [f for f in paper_findings(engine, ALTERED.id) if f.fields == [field]]
    assert len(rows) == 1 and "pen_ink" not in rows[0].evidence
