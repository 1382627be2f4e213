"""Tokens, roles and scopes over HTTP, on SQLite and PostgreSQL (the real app, the real DB).

401 without a valid token (and WWW-Authenticate), 403 for another role, and a
federation of 75 sees nothing of 13, not even by guessing ids.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ingest.access import api_routes, check_access_decisions, require
from ingest.app import create_app
from ingest.auth import UserError, create_user, issue_token, list_users, revoke_user
from ingest.db import ApiToken, AuditEntry, session
from ingest.settings import Settings
from tests.api_world import CORSICA, MARSEILLE, PARIS, engine_of, make_users, seed
from tests.live_ingest import serve_ingest


def test_missing_bad_expired_and_revoked_tokens_are_401(client: TestClient) -> None:
    engine = engine_of(client)
    r = client.get("/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "AUTH.401"
    r = client.get("/v1/me", headers={"Authorization": "Bearer plm_not-a-real-token"})
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
    r = client.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401

    token = create_user(engine, "alice", "high_authority")
    auth = {"Authorization": f"Bearer {token}"}
    me = client.get("/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.json() == {
        "name": "alice",
        "role": "high_authority",
        "departement": None,
        "station_id": None,
    }
    with session(engine) as s, s.begin():
        s.execute(update(ApiToken).values(expires_ms=1))
    assert client.get("/v1/me", headers=auth).status_code == 401

    second = issue_token(engine, "alice", actor="test")
    auth2 = {"Authorization": f"Bearer {second}"}
    assert client.get("/v1/me", headers=auth2).status_code == 200
    assert revoke_user(engine, "alice", actor="test") == 2
    assert client.get("/v1/me", headers=auth2).status_code == 401
    with session(engine) as s:
        stored = list(s.scalars(select(ApiToken.token_hash)))
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
    assert token not in stored and second not in stored  # only hashes are kept
    assert actions == ["user.create", "token.issue", "token.issue", "user.revoke"]
    assert [u.enabled for u in list_users(engine)] == [False]


def test_user_rules() -> None:
    engine = create_app(Settings(database_url="sqlite://")).state.engine
    from ingest.db import create_schema

    create_schema(engine)
    for kwargs, match in (
        ({"role": "federation"}, "needs --departement"),
        ({"role": "federation", "departement": "99"}, "not 01-95"),
        ({"role": "station"}, "needs --station"),
        ({"role": "reviewer", "station_id": PARIS[0]}, "only a station user"),
        ({"role": "high_authority", "departement": "75"}, "national"),
        ({"role": "king"}, "unknown"),
    ):
        role = str(kwargs.pop("role"))
        with pytest.raises(UserError, match=match):
            create_user(engine, "bob", role, **kwargs)
    create_user(engine, "bob", "station", station_id=PARIS[0])
    with pytest.raises(UserError, match="exists already"):
        create_user(engine, "bob", "reviewer")
    assert list_users(engine)[0].departement == "75"  # a station user's département


def test_roles_are_403_with_the_one_error_shape(client: TestClient) -> None:
    h = make_users(engine_of(client))
    seed(engine_of(client))
    for who, path in (
        ("fed75", "/v1/results/national"),
        ("st75", "/v1/results/national"),
        ("rev1", "/v1/stations"),
        ("coord", "/v1/findings"),
        ("st75", "/v1/findings"),
        ("rev1", "/v1/results/departements/75"),
    ):
        r = client.get(path, headers=h[who])
        assert r.status_code == 403, (who, path, r.text)
        err = r.json()["error"]
        assert err["code"] == "AUTH.403" and set(err) == {"code", "message", "details"}
    assert client.get("/v1/results/national", headers=h["ha"]).status_code == 200


def test_federation_75_sees_nothing_of_13(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    world = seed(engine)
    fed = h["fed75"]

    listed = client.get("/v1/stations", headers=fed).json()
    assert [st["station_id"] for st in listed["items"]] == list(PARIS)
    assert listed["total"] == 3
    everyone = client.get("/v1/stations", headers=h["ha"]).json()
    assert everyone["total"] == 6 and CORSICA in [st["station_id"] for st in everyone["items"]]

    for path in (
        f"/v1/stations/{MARSEILLE[0]}",
        f"/v1/stations/{MARSEILLE[0]}/batches",
        f"/v1/stations/{MARSEILLE[0]}/rejections",
        f"/v1/results/stations/{MARSEILLE[0]}",
    ):
        r = client.get(path, headers=fed)
        assert r.status_code == 404, path
        assert client.get(path, headers=h["fed13"]).status_code == 200, path
    assert client.get("/v1/results/departements/13", headers=fed).status_code == 403

    findings = client.get("/v1/findings", headers=fed).json()
    assert [f["id"] for f in findings["items"]] == [world.findings[PARIS[0]]]
    guessed = client.get(f"/v1/findings?station_id={MARSEILLE[0]}", headers=fed).json()
    assert guessed["total"] == 0 and guessed["items"] == []
    guessed = client.get("/v1/findings?departement=13", headers=fed).json()
    assert guessed["total"] == 0
    both = client.get("/v1/findings", headers=h["ha"]).json()
    assert both["total"] == 2


def test_station_user_sees_its_own_station_only(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    seed(engine)
    st = h["st75"]
    listed = client.get("/v1/stations", headers=st).json()
    assert [s["station_id"] for s in listed["items"]] == [PARIS[0]]
    batches = client.get(f"/v1/stations/{PARIS[0]}/batches", headers=st).json()
    assert [b["seq"] for b in batches["items"]] == [1, 2]
    assert client.get(f"/v1/stations/{PARIS[1]}", headers=st).status_code == 404
    assert client.get(f"/v1/stations/{PARIS[1]}/rejections", headers=st).status_code == 404
    assert client.get(f"/v1/results/stations/{PARIS[0]}", headers=st).status_code == 403


def test_every_route_has_a_decision_and_a_role_route_without_one_refuses() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    check_access_decisions(app)
    walked = {path for path, _, _ in api_routes(app)}
    assert {"/v1/me", "/v1/audit", "/v1/stations/{station_id}/batches"} <= walked

    nested = APIRouter(prefix="/v1")

    @nested.get("/leaky")
    def leaky() -> None: ...

    app.include_router(nested)  # inside an included router, the check still sees it
    with pytest.raises(RuntimeError, match="/v1/leaky"):
        check_access_decisions(app)

    bare = FastAPI()

    @bare.get("/guarded", dependencies=[require("high_authority")])
    def guarded() -> None: ...

    check_access_decisions(bare)

    @bare.get("/forgotten")
    def forgotten() -> None: ...

    with pytest.raises(RuntimeError, match="/forgotten"):
        check_access_decisions(bare)


def test_tokens_over_real_http_on_loopback(tmp_path: Path) -> None:
    with serve_ingest(tmp_path / "ingest.db") as (app, base):
        h = make_users(app.state.engine)
        seed(app.state.engine)
        with httpx.Client(base_url=base, timeout=5) as http:
            r = http.get("/v1/stations")
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            listed = http.get("/v1/stations", headers=h["fed13"]).json()
            assert [s["station_id"] for s in listed["items"]] == list(MARSEILLE)
            assert http.get("/v1/audit", headers=h["fed13"]).status_code == 403
