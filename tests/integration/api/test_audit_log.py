"""The audit log on SQLite and PostgreSQL: the ORM refuses changes, SQL tampering is found."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, text, update

from ingest import audit
from ingest.db import AuditEntry, session
from tests.api_world import engine_of, make_users


def _log(engine: Engine, n: int) -> None:
    with session(engine) as s, s.begin():
        for i in range(n):
            audit.append(s, "user:test", "export.results", f"export:{i}", {"rows": i})


def test_orm_refuses_to_change_entries(client: TestClient) -> None:
    engine = engine_of(client)
    _log(engine, 2)
    with session(engine) as s, pytest.raises(RuntimeError, match="append-only"), s.begin():
        entry = s.get(AuditEntry, 1)
        assert entry is not None
        entry.actor = "user:mallory"
    with session(engine) as s, pytest.raises(RuntimeError, match="append-only"), s.begin():
        s.delete(s.get(AuditEntry, 2))
    for stmt in (update(AuditEntry).values(actor="x"), delete(AuditEntry)):
        with session(engine) as s, pytest.raises(RuntimeError, match="append-only"), s.begin():
            s.execute(stmt)
    assert audit.verify_audit(engine).ok


SWAP_1_3 = (  # via a free seq: the primary key must stay unique on PostgreSQL
    "UPDATE audit_entries SET seq = -1 WHERE seq = 1",
    "UPDATE audit_entries SET seq = 1 WHERE seq = 3",
    "UPDATE audit_entries SET seq = 3 WHERE seq = -1",
)


@pytest.mark.parametrize(
    "tamper",
    [
        ("UPDATE audit_entries SET detail = '{\"rows\": 99}' WHERE seq = 2",),
        ("UPDATE audit_entries SET at_ms = at_ms + 1 WHERE seq = 3",),
        ("DELETE FROM audit_entries WHERE seq = 2",),
        ("DELETE FROM audit_entries WHERE seq = (SELECT MAX(seq) FROM audit_entries)",),
        SWAP_1_3,
    ],
    ids=["edit-detail", "edit-time", "delete-middle", "delete-newest", "reorder"],
)
def test_sql_tampering_is_detected_and_reported(
    client: TestClient, tamper: tuple[str, ...]
) -> None:
    engine = engine_of(client)
    h = make_users(engine)  # appends user.create and token.issue entries
    _log(engine, 2)
    ok = client.get("/v1/audit?limit=3", headers=h["ha"]).json()
    assert ok["verification"]["ok"] is True and len(ok["items"]) == 3
    assert ok["items"][0]["seq"] == ok["verification"]["head_seq"] == ok["total"]

    with engine.begin() as conn:
        for stmt in tamper:
            conn.execute(text(stmt))
    found = audit.verify_audit(engine)
    assert not found.ok and found.problem and found.bad_seq is not None
    body = client.get("/v1/audit", headers=h["ha"]).json()["verification"]
    assert body["ok"] is False and body["problem"] == found.problem


def test_audit_route_is_for_the_high_authority(client: TestClient) -> None:
    h = make_users(engine_of(client))
    assert client.get("/v1/audit", headers=h["fed75"]).status_code == 403
    page = client.get("/v1/audit?action=user.create&limit=2&offset=1", headers=h["ha"]).json()
    assert page["total"] == len(h) and [e["action"] for e in page["items"]] == ["user.create"] * 2


def test_concurrent_appends_keep_one_chain(client: TestClient) -> None:
    engine = engine_of(client)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: _log(engine, 10), range(6)))
    found = audit.verify_audit(engine)
    assert found.ok and found.entries == 60 and found.head_seq == 60
