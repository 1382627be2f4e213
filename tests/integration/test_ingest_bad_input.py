"""Bad batches over HTTP, on SQLite and PostgreSQL: a clear 4xx, the refusal kept, nothing else.

Completes tests/integration/test_ingest_api.py (gap, fork, replay, bad
signature, unknown format, garbage) with: oversized bodies (declared and
streamed), a batch signed with another station's key, another station's batch
sent to this station's URL, bodies that are not JSON objects, and URLs that
name no valid station. After each, the station's chain still takes its next
batch: nothing lost that should be kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from ingest.app import create_app
from ingest.db import Rejection, StoredBatch, session
from ingest.settings import Settings
from ingest.stations import create_kits
from pen.batches import (
    GENESIS_HASH,
    Batch,
    encode_batch,
    make_batch,
    public_key_bytes,
    sign_batch,
)
from tests.pg import PG_URL, pg_reachable, reset_pg

A, B = "13055-0001", "13055-0002"
KEYS = {A: Ed25519PrivateKey.from_private_bytes(b"\x0a" * 32), B: Ed25519PrivateKey.generate()}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ingest.db"
    else:
        if not pg_reachable():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        reset_pg(PG_URL)
        url = PG_URL
    with TestClient(create_app(Settings(database_url=url, max_batch_bytes=4096))) as c:
        codes = create_kits(c.app.state.engine, [A, B])  # type: ignore[attr-defined]
        for sid, code in codes.items():
            pub = base64.b64encode(public_key_bytes(KEYS[sid])).decode()
            r = c.post(f"/v1/stations/{sid}/enrol", json={"code": code, "public_key": pub})
            assert r.status_code == 201
        yield c


def _batch(sid: str, seq: int = 1, key: Ed25519PrivateKey | None = None, size: int = 3) -> Batch:
    return sign_batch(make_batch(sid, seq, GENESIS_HASH, [b"\x02" * size], 1000), key or KEYS[sid])


def _post(client: TestClient, sid: str, body: bytes | Iterator[bytes]) -> httpx.Response:
    return client.post(f"/v1/stations/{sid}/batches", content=body)


def _stored(client: TestClient) -> tuple[list[str], list[tuple[str, str, str, bytes]]]:
    """Stored batch station ids, and rejections as (station, reason, code, body)."""
    with session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        batches = list(s.scalars(select(StoredBatch.station_id).order_by(StoredBatch.id)))
        rows = s.execute(
            select(Rejection.station_id, Rejection.reason, Rejection.code, Rejection.body).order_by(
                Rejection.id
            )
        )
        return batches, [tuple(row) for row in rows]  # type: ignore[misc]


def _error(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    err: dict[str, object] = r.json()["error"]
    assert err["code"] == code and isinstance(err["message"], str) and err["message"]
    return err


def _chain_still_works(client: TestClient, sid: str) -> None:
    r = _post(client, sid, encode_batch(_batch(sid)))
    assert r.status_code == 201 and r.json()["head_seq"] == 1


def test_oversized_declared_is_refused_unread_and_the_refusal_kept(client: TestClient) -> None:
    big = encode_batch(_batch(A, size=8000))
    err = _error(_post(client, A, big), 413, "HTTP.413")
    assert "4096 bytes" in str(err["message"])
    batches, rejections = _stored(client)
    assert batches == [] and rejections == [(A, "too_large", "HTTP.413", b"")]
    with session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        assert s.scalar(select(Rejection.body_sha256)) == hashlib.sha256(b"").hexdigest()
    _chain_still_works(client, A)


def test_oversized_streamed_without_length_is_cut_at_the_limit(client: TestClient) -> None:
    chunks = iter([b"{" + b" " * 1000] * 10)  # chunked: no Content-Length to trust
    _error(_post(client, A, chunks), 413, "HTTP.413")
    assert _stored(client) == ([], [(A, "too_large", "HTTP.413", b"")])
    _chain_still_works(client, A)


def test_batch_signed_with_another_stations_key(client: TestClient) -> None:
    forged = encode_batch(_batch(B, key=KEYS[A]))  # names B, signed by A
    err = _error(_post(client, B, forged), 403, "PEN.603")
    assert err["details"] == {"reason": "bad_signature", "seq": 1}  # type: ignore[comparison-overlap]
    assert _stored(client) == ([], [(B, "bad_signature", "PEN.603", forged)])
    _chain_still_works(client, B)


def test_another_stations_batch_sent_to_this_url(client: TestClient) -> None:
    theirs = encode_batch(_batch(A))
    err = _error(_post(client, B, theirs), 422, "PEN.601")
    assert f"from station {A}" in str(err["message"])
    assert _stored(client) == ([], [(B, "wrong_station", "PEN.601", theirs)])
    _chain_still_works(client, A)
    _chain_still_works(client, B)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b"[1, 2]", b"null", b"[" * 2000 + b"]" * 2000, b""],
    ids=["not-utf8", "array", "null", "deeply-nested", "empty"],
)
def test_bodies_that_are_not_batches(client: TestClient, body: bytes) -> None:
    _error(_post(client, A, body), 422, "PEN.601")
    assert _stored(client) == ([], [(A, "malformed", "PEN.601", body)])
    _chain_still_works(client, A)


def test_format_version_of_the_wrong_type(client: TestClient) -> None:
    doc = json.loads(encode_batch(_batch(A)))
    doc["format_version"] = "1"
    body = json.dumps(doc).encode()
    _error(_post(client, A, body), 422, "PEN.602")
    assert _stored(client) == ([], [(A, "unknown_format", "PEN.602", body)])


@pytest.mark.parametrize("sid", ["-leading-dash", "x" * 65, "sp ace", "é"])
def test_a_url_that_names_no_valid_station(client: TestClient, sid: str) -> None:
    """Nothing to attribute a refusal to: answered, counted in the metrics, not stored."""
    r = client.post(f"/v1/stations/{sid}/batches", content=encode_batch(_batch(A)))
    _error(r, 422, "HTTP.422")
    assert _stored(client) == ([], [])
