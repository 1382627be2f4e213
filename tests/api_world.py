"""A small election for the API tests: stations of Paris (75), Marseille (13) and Corsica.

The pipeline tables (PV results, findings, contacts, fields, ink, review items)
are filled directly with realistic rows: these tests are about the API's
rules and scopes, not about how the pipeline fills them. Fixtures ``db_url``
(SQLite and PostgreSQL) and ``client`` (TestClient on the real app) live in
tests/integration/api/conftest.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from ingest.auth import create_user
from ingest.crypto import DEV_CONTACT_KEY, ContactCipher
from ingest.db import (
    Contact,
    FieldInk,
    FindingRow,
    InkStroke,
    PvResult,
    Reading,
    Rejection,
    ReviewItem,
    Station,
    StoredBatch,
    session,
)

PARIS = ("75056-0001", "75056-0002", "75056-0003")
MARSEILLE = ("13055-0001", "13055-0002")
CORSICA = "2A004-0001"
T0 = 1_700_000_000_000


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


USERS: dict[str, dict[str, str | None]] = {
    "ha": {"role": "high_authority"},
    "fed75": {"role": "federation", "departement": "75"},
    "fed13": {"role": "federation", "departement": "13"},
    "st75": {"role": "station", "station_id": PARIS[0]},
    "rev1": {"role": "reviewer"},
    "rev2": {"role": "reviewer"},
    "rev3": {"role": "reviewer"},
    "rev13": {"role": "reviewer", "departement": "13"},
    "coord": {"role": "coordinator"},
}


def make_users(engine: Engine) -> dict[str, dict[str, str]]:
    """Every user of :data:`USERS`; returns name -> Authorization headers."""
    out = {}
    for name, spec in USERS.items():
        token = create_user(
            engine,
            name,
            str(spec["role"]),
            departement=spec.get("departement"),
            station_id=spec.get("station_id"),
        )
        out[name] = {"Authorization": f"Bearer {token}"}
    return out


def pv_values(cands: tuple[int, ...], complete: bool = True) -> dict[str, int | None]:
    valid = sum(cands)
    values: dict[str, int | None] = {
        "signatures": valid + 7,
        "ballots": valid + 7,
        "blank": 4,
        "spoiled": 3,
        "valid": valid,
    }
    values.update({f"candidate_{i}": v for i, v in enumerate(cands, start=1)})
    values["contributions"] = valid + 7
    if not complete:
        values["candidate_2"] = None
    return values


@dataclass(frozen=True)
class World:
    findings: dict[str, int]
    """Station id -> its finding's id."""
    contacts: dict[str, str]
    """Page -> e-mail written on it (plaintext, to look for)."""
    review_items: dict[str, int]
    """``reading75``, ``reading13``, ``finding75`` -> review item id."""
    field_pk: int


def _points(n: int, x0: float) -> bytes:
    t = np.arange(n, dtype=np.float64) * 10
    pts = np.column_stack([x0 + t / 10, 20 + np.sin(t / 30), t, np.full(n, 0.6)])
    return pts.astype("<f8").tobytes()


def seed(engine: Engine) -> World:
    """Stations, batches, rejections, PVs, findings, contacts and review items."""
    cipher = ContactCipher.from_text(DEV_CONTACT_KEY)
    findings: dict[str, int] = {}
    contacts: dict[str, str] = {}
    items: dict[str, int] = {}
    with session(engine) as s, s.begin():
        for i, sid in enumerate((*PARIS, *MARSEILLE, CORSICA)):
            enrolled = sid != PARIS[2]
            head = hashlib.sha256(sid.encode()).hexdigest() if enrolled else "0" * 64
            s.add(
                Station(
                    station_id=sid,
                    enrol_code_hash="0" * 64,
                    public_key=bytes([i + 1]) * 32 if enrolled else None,
                    enrolled_at_ms=T0 + i if enrolled else None,
                    head_seq=2 if enrolled else 0,
                    head_hash=head,
                )
            )
        s.flush()
        for sid in (PARIS[0], PARIS[1], MARSEILLE[0], MARSEILLE[1]):
            for seq in (1, 2):
                s.add(
                    StoredBatch(
                        station_id=sid,
                        seq=seq,
                        hash=f"{seq:064x}",
                        prev_hash=f"{seq - 1:064x}",
                        format_version=1,
                        created_ms=T0 + seq,
                        event_count=3,
                        received_at_ms=T0 + 1000 * seq,
                        body=b"{}",
                    )
                )
        for sid in (PARIS[1], MARSEILLE[0], MARSEILLE[0]):
            s.add(
                Rejection(
                    station_id=sid,
                    seq=3,
                    code="PEN.702",
                    reason="gap",
                    message="batch 3 came before 2",
                    body_sha256="a" * 64,
                    body=b"{}",
                    received_at_ms=T0,
                )
            )
        pvs = {
            PARIS[0]: pv_values((120, 80, 40)),
            PARIS[1]: pv_values((10, 20, 30), complete=False),
            MARSEILLE[0]: pv_values((50, 150, 100)),
            MARSEILLE[1]: pv_values((5, 5, 10)),
        }
        for sid, values in pvs.items():
            s.add(
                PvResult(
                    station_id=sid,
                    departement=sid[:2],
                    values=values,
                    confidence=0.97,
                    complete=all(v is not None for v in values.values()),
                    updated_ms=T0,
                )
            )
        for sid in (PARIS[0], MARSEILLE[0]):
            row = FindingRow(
                station_id=sid,
                departement=sid[:2],
                code="R.101",
                severity="error",
                message="ballots and signatures differ",
                fields=["ballots", "signatures"],
                evidence={"ballots": 250, "signatures": 247},
                status="open",
                created_ms=T0,
            )
            s.add(row)
            s.flush()
            findings[sid] = row.id
        for n, (sid, consent) in enumerate(
            ((PARIS[0], True), (PARIS[0], False), (MARSEILLE[0], True))
        ):
            page = f"1.2.3.{n}"
            email = f"voter{n}@example.org"
            plain = {"last_name": f"DUPONT{n}", "email": email, "phone": f"061234567{n}"}
            contacts[page] = email
            s.add(
                Contact(
                    station_id=sid,
                    departement=sid[:2],
                    page=page,
                    consent=consent,
                    encrypted={k: cipher.encrypt(page, k, v) for k, v in plain.items()},
                    confidence=0.9,
                    updated_ms=T0,
                )
            )
        field_pk = 0
        for key, sid, field in (
            ("reading75", PARIS[1], "candidate_2"),
            ("reading13", MARSEILLE[1], "candidate_3"),
        ):
            fi = FieldInk(
                station_id=sid,
                page=f"9.9.{len(key)}.{sid[:2]}",
                form="pv",
                field_id=field,
                kind="count",
                version=1,
                state="read",
                last_ink_ms=T0,
            )
            s.add(fi)
            s.flush()
            field_pk = field_pk or fi.id
            s.add(
                Reading(
                    field_pk=fi.id,
                    version=1,
                    engine="mlp",
                    text="21",
                    confidence=0.4,
                    alternatives=[["21", 0.4], ["27", 0.35]],
                    created_ms=T0,
                )
            )
            batch_id = s.scalar(
                select(StoredBatch.id).where(StoredBatch.station_id == sid, StoredBatch.seq == 1)
            )
            assert batch_id is not None
            for k in range(2):
                s.add(
                    InkStroke(
                        station_id=sid,
                        batch_id=batch_id,
                        pen_serial="PEN-1",
                        page=fi.page,
                        form="pv",
                        field_id=field,
                        t_start_ms=T0,
                        t_end_ms=T0 + 100,
                        n_points=12,
                        points=_points(12, 30.0 + 6 * k),
                    )
                )
            item = ReviewItem(
                kind="reading",
                ref_id=fi.id,
                version=1,
                station_id=sid,
                departement=sid[:2],
                state="waiting",
                proposal="21",
                created_ms=T0,
            )
            s.add(item)
            s.flush()
            items[key] = item.id
        fitem = ReviewItem(
            kind="finding",
            ref_id=findings[PARIS[0]],
            version=0,
            station_id=PARIS[0],
            departement="75",
            state="waiting",
            proposal=None,
            created_ms=T0,
        )
        s.add(fitem)
        s.flush()
        items["finding75"] = fitem.id
    return World(findings, contacts, items, field_pk)
