"""Exports over HTTP on SQLite and PostgreSQL: scoped, consenting contacts only, audited."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import select

from ingest.audit import verify_audit
from ingest.db import AuditEntry, session
from tests.api_world import MARSEILLE, PARIS, engine_of, make_users, pv_values, seed


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_results_csv_and_json_are_scoped_and_audited(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    seed(engine)
    r = client.get("/v1/exports/results.csv", headers=h["fed75"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = _rows(r.text)
    assert [row["station_id"] for row in rows] == [PARIS[0], PARIS[1]]
    assert rows[0]["candidate_1"] == str(pv_values((120, 80, 40))["candidate_1"])
    assert rows[1]["complete"] == "False" and rows[1]["candidate_2"] == ""
    assert list(rows[0])[:9] == [
        "station_id",
        "departement",
        "complete",
        "confidence",
        "signatures",
        "ballots",
        "blank",
        "spoiled",
        "valid",
    ]
    other = client.get("/v1/exports/results.csv?departement=13", headers=h["fed75"])
    assert other.status_code == 403

    doc = client.get("/v1/exports/results.json", headers=h["ha"]).json()
    assert (doc["format"], doc["version"], doc["scope"]) == ("plume-results", 1, "national")
    assert [st["station_id"] for st in doc["stations"]] == sorted([*PARIS[:2], *MARSEILLE])
    assert doc["stations_reporting"] == 3
    one = client.get("/v1/exports/results.json?departement=13", headers=h["ha"]).json()
    assert one["scope"] == "13" and len(one["stations"]) == 2
    assert client.get("/v1/exports/results.json", headers=h["rev1"]).status_code == 403

    with session(engine) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "export.results")))
    assert [(e.actor, e.detail["departement"], e.detail["format"]) for e in entries] == [
        ("user:fed75", "75", "csv"),
        ("user:ha", None, "json"),
        ("user:ha", "13", "json"),
    ]


def test_contacts_export_consenting_only_decrypted_scoped_and_audited(
    client: TestClient,
) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    world = seed(engine)
    r = client.get("/v1/exports/contacts.csv", headers=h["fed75"])
    assert r.status_code == 200 and r.headers["x-plume-undecryptable"] == "0"
    rows = _rows(r.text)
    assert [row["email"] for row in rows] == [world.contacts["1.2.3.0"]]  # 1.2.3.1: no consent
    assert rows[0]["last_name"] == "DUPONT0" and rows[0]["first_name"] == ""
    assert world.contacts["1.2.3.2"] not in r.text  # Marseille's
    everyone = _rows(client.get("/v1/exports/contacts.csv", headers=h["ha"]).text)
    assert {row["email"] for row in everyone} == {
        world.contacts["1.2.3.0"],
        world.contacts["1.2.3.2"],
    }
    for who in ("rev1", "coord", "st75"):
        assert client.get("/v1/exports/contacts.csv", headers=h[who]).status_code == 403
    assert (
        client.get("/v1/exports/contacts.csv?departement=13", headers=h["fed75"]).status_code == 403
    )

    with session(engine) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "contacts.export")))
    assert [(e.actor, e.detail["rows"]) for e in entries] == [("user:fed75", 1), ("user:ha", 2)]
    assert not any("@" in str(e.detail) for e in entries)
    assert verify_audit(engine).ok


def test_csv_cells_cannot_run_as_formulas() -> None:
    from ingest.exports import csv_text

    text = csv_text(["a", "b"], [["=HYPERLINK(1)", "-3"], ["plain", None]])
    assert _rows(text) == [{"a": "'=HYPERLINK(1)", "b": "'-3"}, {"a": "plain", "b": ""}]
