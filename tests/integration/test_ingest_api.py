"""ingest over HTTP: enrolment and batch intake, on SQLite and PostgreSQL.

Most tests use FastAPI's TestClient (the real app, the real database); one
starts uvicorn on a loopback port and talks real HTTP with httpx.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from ingest.app import create_app
from ingest.db import Base, Rejection, StoredBatch, make_engine, session
from ingest.settings import Settings
from ingest.stations import create_kits
from pen.batches import (
    GENESIS_HASH,
    Batch,
    batch_hash,
    batch_to_dict,
    encode_batch,
    make_batch,
    public_key_bytes,
    sign_batch,
)
from tests.live_ingest import serve_ingest
from tests.pg import PG_URL

SID = "01004-0008"


def _pg_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ingest.db"
    if not _pg_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    engine = make_engine(PG_URL)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url))
    with TestClient(app) as c:
        yield c


def _engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)


def _enrolled(client: TestClient, key: Ed25519PrivateKey = KEY) -> str:
    code = create_kits(_engine(client), [SID])[SID]
    pub = base64.b64encode(public_key_bytes(key)).decode()
    r = client.post(f"/v1/stations/{SID}/enrol", json={"code": code, "public_key": pub})
    assert r.status_code == 201, r.text
    return code


def _chain(n: int, salt: int = 0) -> list[Batch]:
    out, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        b = sign_batch(make_batch(SID, seq, prev, [bytes([2, seq, salt])], 1000 + seq), KEY)
        out.append(b)
        prev = batch_hash(b)
    return out


def _post(client: TestClient, body: bytes) -> httpx.Response:
    return client.post(
        f"/v1/stations/{SID}/batches", content=body, headers={"content-type": "application/json"}
    )


def _counts(client: TestClient) -> tuple[int, list[str]]:
    with session(_engine(client)) as s:
        stored = s.scalar(select(func.count()).select_from(StoredBatch)) or 0
        reasons = list(s.scalars(select(Rejection.reason).order_by(Rejection.id)))
    return stored, reasons


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    assert "/v1/stations/{station_id}/batches" in client.get("/openapi.json").json()["paths"]
    r = client.get("/v1/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "HTTP.404"


def test_enrol_once_then_refused(client: TestClient) -> None:
    code = _enrolled(client)
    pub = base64.b64encode(public_key_bytes(KEY)).decode()
    again = client.post(f"/v1/stations/{SID}/enrol", json={"code": code, "public_key": pub})
    assert again.status_code == 200  # a retry with the same key changes nothing
    other = Ed25519PrivateKey.generate()
    pub2 = base64.b64encode(public_key_bytes(other)).decode()
    r = client.post(f"/v1/stations/{SID}/enrol", json={"code": code, "public_key": pub2})
    assert r.status_code == 409 and r.json()["error"]["code"] == "ENROL.409"
    r = client.post(f"/v1/stations/{SID}/enrol", json={"code": "WRONG", "public_key": pub2})
    assert r.status_code == 403


def test_batches_accepted_idempotent_and_refused(client: TestClient) -> None:
    _enrolled(client)
    b1, b2, b3, b4 = _chain(4)
    r = _post(client, encode_batch(b1))
    assert r.status_code == 201
    assert r.json() == {
        "station_id": SID,
        "seq": 1,
        "hash": batch_hash(b1),
        "status": "accepted",
        "head_seq": 1,
    }
    again = _post(client, encode_batch(b1))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert _counts(client) == (1, [])

    gap = _post(client, encode_batch(b3))
    err = gap.json()["error"]
    assert gap.status_code == 409 and err["code"] == "PEN.702"
    assert err["details"]["reason"] == "gap" and err["details"]["expected_seq"] == 2

    assert _post(client, encode_batch(b2)).status_code == 201
    fork = _chain(2, salt=9)[1]
    r = _post(client, encode_batch(fork))
    assert r.status_code == 409 and r.json()["error"]["code"] == "PEN.703"
    replay = _post(client, encode_batch(b1))
    assert replay.status_code == 409 and replay.json()["error"]["details"]["reason"] == "replay"

    tampered = batch_to_dict(b3)
    tampered["created_ms"] = 1
    r = _post(client, json.dumps(tampered).encode())
    assert r.status_code == 403 and r.json()["error"]["code"] == "PEN.603"

    unknown = batch_to_dict(b3)
    unknown["format_version"] = 99
    r = _post(client, json.dumps(unknown).encode())
    assert r.status_code == 422 and r.json()["error"]["code"] == "PEN.602"
    assert "format_version 99 is unknown" in r.json()["error"]["message"]

    assert _post(client, b"not json").status_code == 422
    assert _post(client, encode_batch(b3)).status_code == 201
    assert _post(client, encode_batch(b4)).status_code == 201
    stored, reasons = _counts(client)
    assert stored == 4
    assert reasons == ["gap", "fork", "replay", "bad_signature", "unknown_format", "malformed"]
    with session(_engine(client)) as s:
        bodies = list(s.scalars(select(StoredBatch.body).order_by(StoredBatch.seq)))
    assert bodies == [encode_batch(b) for b in (b1, b2, b3, b4)]  # stored byte-identical


def test_unenrolled_and_oversized(client: TestClient) -> None:
    b1 = _chain(1)[0]
    r = _post(client, encode_batch(b1))
    assert r.status_code == 404 and r.json()["error"]["details"]["reason"] == "not_enrolled"
    client.app.state.settings.max_batch_bytes = 100  # type: ignore[attr-defined]
    r = _post(client, encode_batch(b1) + b" " * 200)
    assert r.status_code == 413 and r.json()["error"]["code"] == "HTTP.413"


def test_settings_refuse_default_secret_outside_development() -> None:
    with pytest.raises(ValueError, match="PLUME_SECRET_KEY"):
        Settings(environment="production")
    key = base64.b64encode(bytes(range(32))).decode()
    Settings(environment="production", secret_key="s3cret-from-the-vault", contact_key=key)


def test_real_http_on_loopback(tmp_path: Path) -> None:
    with serve_ingest(tmp_path / "ingest.db") as (app, base):
        code = create_kits(app.state.engine, [SID])[SID]
        with httpx.Client(base_url=base, timeout=5) as http:
            pub = base64.b64encode(public_key_bytes(KEY)).decode()
            r = http.post(f"/v1/stations/{SID}/enrol", json={"code": code, "public_key": pub})
            assert r.status_code == 201
            for b in _chain(3):
                r = http.post(f"/v1/stations/{SID}/batches", content=encode_batch(b))
                assert r.status_code == 201 and r.json()["hash"] == batch_hash(b)


def test_a_route_without_access_decision_refuses_to_start() -> None:
    from fastapi import FastAPI

    from ingest.access import check_access_decisions

    app = create_app(Settings(database_url="sqlite://"))
    check_access_decisions(app)
    bare = FastAPI()

    @bare.get("/open")
    def open_route() -> None: ...

    with pytest.raises(RuntimeError, match="/open"):
        check_access_decisions(bare)


def test_plume_kits_create(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from plume.cli import main

    url = f"sqlite:///{tmp_path}/kits.db"
    monkeypatch.setenv("PLUME_DATABASE_URL", url)
    out = f"{tmp_path}/kits.csv"
    assert main(["kits", "create", "--stations", "3", "--out", out]) == 0
    with open(out, encoding="utf-8") as f:
        rows = f.read().splitlines()
    assert rows[0] == "station_id,enrolment_code" and len(rows) == 4
    app = create_app(Settings(database_url=url))
    sid, code = rows[1].split(",")
    with TestClient(app) as c:
        pub = base64.b64encode(public_key_bytes(KEY)).decode()
        r = c.post(f"/v1/stations/{sid}/enrol", json={"code": code, "public_key": pub})
        assert r.status_code == 201
