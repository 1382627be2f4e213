"""Contact forms become encrypted contact rows, and no plaintext lands on disk or in logs.

A simulated day with contact forms goes through the real intake and the
pipeline on a SQLite file; then the database files (db and its WAL) and every
log event are searched for the voters' e-mail addresses and phone numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from hardware_sim.day import simulate_day
from hardware_sim.stations import pick_stations
from ingest.crypto import ContactCipher
from ingest.db import Contact, FieldInk, Reading, ReviewItem, create_schema, make_engine, session
from ingest.pipeline import run_once
from ingest.settings import Settings
from plume.sim_kits import create_sim_kits
from tests.pipeline_sim import day_events, enrol_station, signed_bodies, upload


def test_contact_forms_are_encrypted_field_by_field_and_never_in_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    station = pick_stations(1, seed=31)[0]
    day = simulate_day(station, "honest", seed=2, contact_rate=0.04)
    assert len(day.contacts) >= 2
    db = tmp_path / "ingest.db"
    settings = Settings(database_url=f"sqlite:///{db}")
    engine = make_engine(settings.database_url)
    create_schema(engine)
    codes = create_sim_kits(engine, [station], contact_sheets=100)
    key = enrol_station(engine, station.id, codes[station.id])
    with capture_logs() as logs:
        upload(engine, station.id, signed_bodies(station.id, key, day_events(day)))
        stats = run_once(engine, settings)
    assert stats.failed == 0
    cipher = ContactCipher.from_text(settings.contact_key.get_secret_value())
    truth = {str(c.page): c for c in day.contacts}
    with session(engine) as s:
        contacts = s.scalars(select(Contact)).all()
        fields = s.scalars(select(FieldInk).where(FieldInk.form == "contact")).all()
        readings = {
            f.id: s.scalars(select(Reading).where(Reading.field_pk == f.id)).all() for f in fields
        }
        reviews = s.scalars(select(ReviewItem).where(ReviewItem.kind == "reading")).all()
    assert {c.page for c in contacts} == set(truth)
    assert all(c.station_id == station.id for c in contacts)
    for f in fields:
        for r in readings[f.id]:
            assert r.text is None and r.alternatives == []
    contact_field_pks = {f.id for f in fields}
    assert all(i.proposal is None for i in reviews if i.ref_id in contact_field_pks)
    # What was read is sealed per page and field, and opens to what the voter wrote
    # where recognition was sure of itself.
    opened = right = 0
    by_page_field = {(f.page, f.field_id): f for f in fields}
    for c in contacts:
        for name, sealed in c.encrypted.items():
            value = cipher.decrypt(c.page, name, sealed)
            r = readings[by_page_field[(c.page, name)].id][-1]
            wrote = getattr(truth[c.page], name, None)
            if r.confidence >= settings.review_threshold and isinstance(wrote, str):
                opened += 1
                right += value == wrote.upper() if name.endswith("name") else value == wrote
    assert opened >= 3, "too few fields were read confidently"
    # Confidence is calibrated: what passes the threshold is nearly always right.
    assert right / opened >= 0.85, f"{right}/{opened} confident readings were right"
    # No plaintext at rest (db and WAL) nor in any log line.
    engine.dispose()
    files = [p for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    blob = b"".join(p.read_bytes() for p in files)
    printed = capsys.readouterr()
    logged = repr(logs) + printed.out + printed.err
    assert any(e.get("form") == "contact" for e in logs)  # contact reads were logged
    for c in day.contacts:
        for secret in (c.email, c.phone):
            assert secret.encode() not in blob
            assert secret not in logged
