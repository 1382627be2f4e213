"""Results, station status and findings over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from pen.batches import closing_code
from tests.api_world import CORSICA, MARSEILLE, PARIS, T0, engine_of, make_users, pv_values, seed


def _sum(*stations: tuple[int, ...]) -> list[int]:
    return [sum(votes) for votes in zip(*stations, strict=True)]


def test_national_and_departement_totals_count_complete_pvs_only(client: TestClient) -> None:
    h = make_users(engine_of(client))
    seed(engine_of(client))
    nat = client.get("/v1/results/national", headers=h["ha"]).json()
    assert nat["scope"] == "national"
    assert (nat["stations_expected"], nat["stations_reporting"]) == (6, 3)
    votes = _sum((120, 80, 40), (50, 150, 100), (5, 5, 10))  # PARIS[1] is incomplete
    assert [c["votes"] for c in nat["candidates"]] == votes
    assert [c["field"] for c in nat["candidates"]] == ["candidate_1", "candidate_2", "candidate_3"]
    assert sum(c["share"] for c in nat["candidates"]) == pytest.approx(1.0)
    assert nat["candidates"][1]["share"] == pytest.approx(votes[1] / sum(votes))
    assert nat["totals"]["valid"] == sum(votes)
    assert list(nat["totals"])[:5] == ["signatures", "ballots", "blank", "spoiled", "valid"]

    paris = client.get("/v1/results/departements/75", headers=h["fed75"]).json()
    assert (paris["stations_expected"], paris["stations_reporting"]) == (3, 1)
    assert [c["votes"] for c in paris["candidates"]] == [120, 80, 40]
    assert paris["candidates"][0]["share"] == pytest.approx(0.5)

    one = client.get(f"/v1/results/stations/{PARIS[1]}", headers=h["fed75"]).json()
    assert one["stations_reporting"] == 0  # incomplete: shown, not counted
    assert "candidate_2" not in one["totals"]
    assert one["totals"]["candidate_1"] == pv_values((10, 20, 30))["candidate_1"]
    corsica = client.get("/v1/results/departements/2A", headers=h["ha"]).json()
    assert (corsica["stations_expected"], corsica["stations_reporting"]) == (1, 0)
    assert corsica["candidates"] == []
    r = client.get("/v1/results/departements/99x", headers=h["ha"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "HTTP.422"


def test_station_status(client: TestClient) -> None:
    h = make_users(engine_of(client))
    seed(engine_of(client))
    page = client.get("/v1/stations", headers=h["ha"]).json()
    by_id = {st["station_id"]: st for st in page["items"]}
    assert list(by_id) == sorted([*PARIS, *MARSEILLE, CORSICA])
    done = by_id[PARIS[0]]
    assert done == {
        "station_id": PARIS[0],
        "departement": "75",
        "enrolled": True,
        "enrolled_at_ms": T0,
        "head_seq": 2,
        "batches": 2,
        "last_batch_ms": T0 + 2000,
        "rejections": 0,
        "pv_complete": True,
        "open_findings": 1,
        "closing_code": closing_code(hashlib.sha256(PARIS[0].encode()).hexdigest()),
    }
    assert by_id[PARIS[1]]["pv_complete"] is False and by_id[PARIS[1]]["closing_code"] is None
    assert by_id[PARIS[1]]["rejections"] == 1 and by_id[MARSEILLE[0]]["rejections"] == 2
    assert by_id[PARIS[2]]["enrolled"] is False and by_id[PARIS[2]]["batches"] == 0
    assert by_id[CORSICA]["departement"] == "2A"

    second = client.get("/v1/stations?limit=2&offset=2", headers=h["ha"]).json()
    assert second["total"] == 6
    assert [st["station_id"] for st in second["items"]] == list(by_id)[2:4]
    too_many = client.get("/v1/stations?limit=5000", headers=h["ha"])
    assert too_many.status_code == 422
    one = client.get(f"/v1/stations/{PARIS[0]}", headers=h["st75"]).json()
    assert one == done
    assert client.get("/v1/stations/75056-9999", headers=h["ha"]).status_code == 404

    rej = client.get(f"/v1/stations/{MARSEILLE[0]}/rejections", headers=h["ha"]).json()
    assert rej["total"] == 2 and rej["items"][0]["reason"] == "gap"
    assert "body" not in rej["items"][0]


def test_findings_filters(client: TestClient) -> None:
    h = make_users(engine_of(client))
    world = seed(engine_of(client))
    ha = h["ha"]
    every = client.get("/v1/findings", headers=ha).json()
    assert every["total"] == 2
    assert [f["id"] for f in every["items"]] == sorted(world.findings.values(), reverse=True)
    only = client.get(f"/v1/findings?station_id={MARSEILLE[0]}", headers=ha).json()
    assert [f["id"] for f in only["items"]] == [world.findings[MARSEILLE[0]]]
    assert only["items"][0]["evidence"] == {"ballots": 250, "signatures": 247}
    assert client.get("/v1/findings?code=R.999", headers=ha).json()["total"] == 0
    assert client.get("/v1/findings?status=open&departement=13", headers=ha).json()["total"] == 1
    assert client.get("/v1/findings?status=resolved", headers=ha).json()["total"] == 0
    assert client.get("/v1/findings?status=bogus", headers=ha).status_code == 422
