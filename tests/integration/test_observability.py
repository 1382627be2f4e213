"""Metrics, request logs and ``plume serve|db``: what operators see, checked for real.

Requests go through the real app (TestClient or uvicorn on loopback) on real
SQLite files; logs are captured from the real structlog configuration.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from ingest.app import create_app
from ingest.db import Base, make_engine
from ingest.observability import configure_logging
from ingest.settings import Settings
from ingest.stations import create_kits
from pen.batches import (
    GENESIS_HASH,
    Batch,
    batch_hash,
    encode_batch,
    make_batch,
    public_key_bytes,
    sign_batch,
)
from tests.live_ingest import free_port

ROOT = Path(__file__).resolve().parents[2]
SID = "75056-0001"
KEY = Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
EMAIL = b"jeanne.dupont@example.org"
"""Stands for personal data inside a body: it must never reach a log line."""


def _chain(n: int, payload: bytes = b"\x02\x01") -> list[Batch]:
    out, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        b = sign_batch(make_batch(SID, seq, prev, [payload, payload], 1000 + seq), KEY)
        out.append(b)
        prev = batch_hash(b)
    return out


def _client(tmp_path: Path, **kwargs: bool) -> TestClient:
    return TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path}/i.db")), **kwargs)


def _enrol(client: TestClient) -> None:
    code = create_kits(client.app.state.engine, [SID])[SID]  # type: ignore[attr-defined]
    pub = base64.b64encode(public_key_bytes(KEY)).decode()
    r = client.post(f"/v1/stations/{SID}/enrol", json={"code": code, "public_key": pub})
    assert r.status_code == 201


def _post(client: TestClient, body: bytes) -> httpx.Response:
    return client.post(f"/v1/stations/{SID}/batches", content=body)


def _samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def test_metrics_count_requests_and_batch_outcomes(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        _enrol(client)
        b1, b2 = _chain(2)
        assert _post(client, encode_batch(b1)).status_code == 201
        assert _post(client, encode_batch(b2)).status_code == 201
        assert _post(client, encode_batch(b2)).status_code == 200  # duplicate
        assert _post(client, encode_batch(_chain(5)[4])).status_code == 409  # gap
        assert _post(client, b"{not json").status_code == 422
        r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = _samples(r.text)
    batches = "/v1/stations/{station_id}/batches"
    assert got[("plume_batches_total", (("outcome", "accepted"), ("reason", "none")))] == 2
    assert got[("plume_batches_total", (("outcome", "duplicate"), ("reason", "none")))] == 1
    assert got[("plume_batches_total", (("outcome", "rejected"), ("reason", "gap")))] == 1
    assert got[("plume_batches_total", (("outcome", "rejected"), ("reason", "malformed")))] == 1
    assert got[("plume_batch_events_stored_total", ())] == len(b1.events) + len(b2.events)
    stored = len(encode_batch(b1)) + len(encode_batch(b2))
    assert got[("plume_batch_bytes_stored_total", ())] == stored
    key = ("plume_http_requests_total", (("method", "POST"), ("route", batches), ("status", "201")))
    assert got[key] == 2
    latency = (
        "plume_http_request_duration_seconds_count",
        (("method", "POST"), ("route", batches)),
    )
    assert got[latency] == 5
    assert got[("plume_database_up", ())] == 1
    assert SID not in r.text  # labels are templates: no station ids


def test_each_app_counts_alone_and_unmatched_paths_share_one_label(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with _client(tmp_path / "a") as a, _client(tmp_path / "b") as b:
        for n in range(3):
            assert a.get(f"/scan/{n}").status_code == 404
        got_a, got_b = _samples(a.get("/metrics").text), _samples(b.get("/metrics").text)
    unmatched = (
        "plume_http_requests_total",
        (("method", "GET"), ("route", "unmatched"), ("status", "404")),
    )
    assert got_a[unmatched] == 3
    assert unmatched not in got_b


def test_database_down_shows_in_ready_and_metrics(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        client.app.state.engine = make_engine(f"sqlite:///{tmp_path}/missing-dir/x.db")  # type: ignore[attr-defined]
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["error"]["code"] == "HTTP.503"
        assert _samples(client.get("/metrics").text)[("plume_database_up", ())] == 0


def test_request_id_is_kept_when_sane_and_made_otherwise(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        assert (
            client.get("/health", headers={"x-request-id": "lb-42.a"}).headers["x-request-id"]
            == "lb-42.a"
        )
        made = client.get("/health", headers={"x-request-id": "bad id\twith spaces"})
        assert len(made.headers["x-request-id"]) == 32 and " " not in made.headers["x-request-id"]


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The service's JSON logging into a buffer; the previous configuration comes back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("json", stream=out)
    yield out
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_logs_one_line_per_request_and_no_bodies(
    tmp_path: Path, json_logs: io.StringIO
) -> None:
    with _client(tmp_path) as client:
        _enrol(client)
        b1 = _chain(1, payload=EMAIL)[0]
        assert _post(client, encode_batch(b1)).status_code == 201
        assert _post(client, b'{"email": "' + EMAIL + b'"}').status_code == 422
        bad_code = client.post(
            f"/v1/stations/{SID}/enrol", json={"code": "SECRET-CODE-1", "public_key": "AA=="}
        )
        assert bad_code.status_code == 422
    text_out = json_logs.getvalue()
    lines = _lines(json_logs)  # every line is JSON
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) == 4
    assert {(r["method"], r["route"], r["status"]) for r in requests} == {
        ("POST", "/v1/stations/{station_id}/enrol", 201),
        ("POST", "/v1/stations/{station_id}/batches", 201),
        ("POST", "/v1/stations/{station_id}/batches", 422),
        ("POST", "/v1/stations/{station_id}/enrol", 422),
    }
    assert all(isinstance(r["duration_ms"], float) and r["request_id"] for r in requests)
    assert {r.get("code") for r in requests if r["status"] == 422} == {"PEN.601", "ENROL.422"}
    accepted = next(line for line in lines if line["event"] == "batch.accepted")
    assert accepted["request_id"] in {r["request_id"] for r in requests}  # bound per request
    for secret in (EMAIL, base64.b64encode(EMAIL), b"SECRET-CODE-1", encode_batch(b1)[:40]):
        assert secret.decode() not in text_out


def test_log_level_keeps_only_what_is_asked(tmp_path: Path, json_logs: io.StringIO) -> None:
    configure_logging("json", level="WARNING", stream=json_logs)
    with _client(tmp_path) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/nowhere").status_code == 404
    requests = [line for line in _lines(json_logs) if line["event"] == "request"]
    assert [(r["status"], r["level"]) for r in requests] == [(404, "warning")]


def test_a_crash_is_logged_with_its_code_and_no_data(
    tmp_path: Path, json_logs: io.StringIO
) -> None:
    with _client(tmp_path, raise_server_exceptions=False) as client:
        _enrol(client)
        with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("DROP TABLE batches"))  # a real storage fault
        body = encode_batch(_chain(1, payload=EMAIL)[0])
        r = _post(client, body)
    assert r.status_code == 500 and r.json()["error"]["code"] == "HTTP.500"
    lines = _lines(json_logs)
    request = next(line for line in lines if line["event"] == "request" and line["status"] >= 500)
    assert request["status"] == 500 and request["code"] == "HTTP.500"
    assert request["level"] == "error"
    crash = next(line for line in lines if line["event"] == "request.failed")
    crash_text = json.dumps(crash["exception"])
    assert "no such table" in crash_text
    assert "SQL parameters hidden" in crash_text  # strings could be a voter's, if stored
    out = json_logs.getvalue()
    for secret in (EMAIL, base64.b64encode(EMAIL), body[:40]):  # not even in SQL parameters
        assert secret.decode() not in out


def _plume(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plume", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plume_db_current_and_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from plume.cli import main

    monkeypatch.setenv("PLUME_DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    assert main(["db", "current"]) == 1
    assert "none (empty database)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "at head" in capsys.readouterr().out


def test_plume_serve_refuses_a_database_it_cannot_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    Base.metadata.create_all(engine)  # as before migrations: tables, no stamp
    engine.dispose()
    r = _plume("serve", "--port", str(free_port()), env={"PLUME_DATABASE_URL": url})
    assert r.returncode == 1 and "no migration stamp" in r.stderr


def test_plume_serve_logs_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PLUME_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    cmd = [sys.executable, "-m", "plume", "serve", "--port", str(port), "--log-format", "json"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "plume serve exited"
            assert time.monotonic() < deadline, "plume serve did not answer within 30 s"
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", headers={"x-request-id": "t1"})
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    assert any(
        line["event"] == "request" and line["request_id"] == "t1" and line["route"] == "/health"
        for line in lines
    )
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)
