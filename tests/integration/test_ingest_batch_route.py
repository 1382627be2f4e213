"""The lean path of batch upload answers exactly as the documented route, on SQLite and PostgreSQL.

The same requests go to the app as built (batch uploads take the lean path,
:mod:`ingest.batch_route`) and to the same app with the lean path taken out
(FastAPI's route answers), each on a fresh database: every answer (status, headers,
body bytes), every stored batch and refusal, every log line and the request and
batch counters must be the same. A route whose access decision is not the station's signature is
refused a lean path.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from structlog.testing import capture_logs

import ingest.batch_route
from ingest.access import PUBLIC
from ingest.app import create_app
from ingest.batch_route import BatchRoute, install_batch_route
from ingest.db import Rejection, StoredBatch, session
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
from tests.pg import PG_URL, pg_reachable, reset_pg

A, B = "13055-0001", "13055-0002"
KEYS = {
    sid: Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i, sid in enumerate((A, B))
}
LIMIT = 4096


def _chain(sid: str, n: int, salt: int = 0) -> list[Batch]:
    out, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        b = sign_batch(make_batch(sid, seq, prev, [bytes([2, seq, salt])], 1000 + seq), KEYS[sid])
        out.append(b)
        prev = batch_hash(b)
    return out


def _requests() -> list[tuple[str, str, bytes | Iterator[bytes]]]:
    """(method, path, body): every kind of answer the route gives, in order."""
    b1, b2, b3 = _chain(A, 3)
    fork = _chain(A, 2, salt=9)[1]
    tampered = batch_to_dict(b3)
    tampered["created_ms"] = 1
    unknown = batch_to_dict(b3)
    unknown["format_version"] = 99
    stranger = sign_batch(make_batch("X-404", 1, GENESIS_HASH, [b"\x02"], 1), KEYS[A])
    url = f"/v1/stations/{A}/batches"
    big = encode_batch(sign_batch(make_batch(A, 3, batch_hash(b2), [b"\x02" * LIMIT], 5), KEYS[A]))
    return [
        ("POST", url, encode_batch(b1)),  # 201 accepted
        ("POST", url, encode_batch(b1)),  # 200 duplicate
        ("POST", url, encode_batch(b3)),  # 409 gap
        ("POST", url, encode_batch(b2)),  # 201
        ("POST", url, encode_batch(fork)),  # 409 fork
        ("POST", url, encode_batch(b1)),  # 409 replay
        ("POST", url, json.dumps(tampered).encode()),  # 403 bad signature
        ("POST", url, json.dumps(unknown).encode()),  # 422 unknown format
        ("POST", url, b"not json"),  # 422 malformed
        ("POST", url, b"[1, 2]"),  # 422 not an object
        ("POST", url, big),  # 413 declared too large
        ("POST", url, iter([big[:3000], big[3000:]])),  # 413 streamed too large
        ("POST", url, encode_batch(_chain(B, 1)[0])),  # 422 another station's batch
        ("POST", "/v1/stations/X-404/batches", encode_batch(stranger)),  # 404 not enrolled
        ("POST", "/v1/stations/-bad/batches", encode_batch(b3)),  # 422 invalid id (FastAPI)
        ("POST", f"/v1/stations/{A}%20/batches", encode_batch(b3)),  # 422 invalid id
        ("GET", url, b""),  # another route's (it needs a token)
        ("POST", url + "/", encode_batch(b3)),  # as FastAPI routes it
        ("POST", url, encode_batch(b3)),  # 201: the chain still takes its next batch
    ]


@contextlib.contextmanager
def _serve(db: str, tmp_path: Path, lean: bool) -> Iterator[TestClient]:
    if db == "sqlite":
        url = f"sqlite:///{tmp_path}/ingest-{lean}.db"
    else:
        reset_pg(PG_URL)
        url = PG_URL
    app = create_app(Settings(database_url=url, max_batch_bytes=LIMIT))
    if not lean:  # before the first request builds the middleware stack
        app.user_middleware = [m for m in app.user_middleware if m.cls is not BatchRoute]
    with TestClient(app) as client:
        codes = create_kits(app.state.engine, [A, B])
        for sid, code in codes.items():
            pub = base64.b64encode(public_key_bytes(KEYS[sid])).decode()
            r = client.post(f"/v1/stations/{sid}/enrol", json={"code": code, "public_key": pub})
            assert r.status_code == 201
        yield client


_VARYING = {"x-request-id", "date"}
_LOG_VARYING = {"request_id", "duration_ms"}
#: The routes' own log events; the app's pipeline thread logs on its own clock (under load a
#: turn of it can fall inside one session's capture and not the other's).
_ROUTE_EVENTS = ("request", "batch.", "station.")
_COUNTERS = re.compile(r"^(plume_http_requests_total|plume_batch\w*_total)\{?.*$", re.M)


def _session(client: TestClient) -> dict[str, Any]:
    answers = []
    with capture_logs() as logs:
        for method, path, body in _requests():
            r = client.request(method, path, content=body, follow_redirects=False)
            headers = sorted((k, v) for k, v in r.headers.items() if k not in _VARYING)
            answers.append((method, path, r.status_code, headers, r.content))
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with session(engine) as s:
        batches = s.execute(
            select(
                StoredBatch.station_id, StoredBatch.seq, StoredBatch.hash, StoredBatch.body
            ).order_by(StoredBatch.id)
        ).all()
        refusals = s.execute(
            select(
                Rejection.station_id,
                Rejection.seq,
                Rejection.code,
                Rejection.reason,
                Rejection.message,
                Rejection.body,
            ).order_by(Rejection.id)
        ).all()
    metrics = client.get("/metrics").text
    return {
        "answers": answers,
        "batches": [tuple(b) for b in batches],
        "refusals": [tuple(r) for r in refusals],
        "counters": sorted(m.group(0) for m in _COUNTERS.finditer(metrics)),
        "logs": [
            {k: v for k, v in e.items() if k not in _LOG_VARYING}
            for e in logs
            if e["event"] == "request" or e["event"].startswith(_ROUTE_EVENTS[1:])
        ],
    }


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_lean_path_answers_as_the_documented_route(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db == "postgres" and not pg_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    lean_calls: list[str] = []
    answer = ingest.batch_route.answer_batch

    async def counted(app: Any, scope: Any, station_id: str, *rest: Any) -> Any:
        lean_calls.append(station_id)
        return await answer(app, scope, station_id, *rest)

    monkeypatch.setattr(ingest.batch_route, "answer_batch", counted)
    with _serve(db, tmp_path, lean=True) as client:
        lean = _session(client)
    taken = len(lean_calls)
    with _serve(db, tmp_path, lean=False) as client:
        documented = _session(client)
    assert len(lean_calls) == taken  # the route without the lean path never took it
    assert lean["answers"] == documented["answers"]
    assert lean == documented
    statuses = [a[2] for a in lean["answers"]]
    assert statuses[:14] == [201, 200, 409, 201, 409, 409, 403, 422, 422, 422, 413, 413, 422, 404]
    assert statuses[14:] == [422, 422, 401, 307, 201]
    assert taken == 15  # every upload with a valid station id; the others went to FastAPI
    assert len(lean["batches"]) == 3 and len(lean["refusals"]) == 11
    assert any('route="/v1/stations/{station_id}/batches"' in c for c in lean["counters"])
    requests = [e for e in lean["logs"] if e["event"] == "request"]
    assert len(requests) == len(statuses) and requests[2]["code"] == "PEN.702"


def test_a_lean_path_is_refused_to_a_route_that_is_not_the_stations() -> None:
    app = FastAPI()

    @app.post("/v1/stations/{station_id}/batches", dependencies=[PUBLIC])
    def open_batches(station_id: str) -> None: ...

    with pytest.raises(RuntimeError, match="only serves a STATION route"):
        install_batch_route(app)
