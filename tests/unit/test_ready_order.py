"""Which ready fields are read first: the minutes before contact forms, then oldest ink."""

from __future__ import annotations

from pathlib import Path

from ingest.assembly import ready_groups
from ingest.db import FieldInk, create_schema, make_engine, session


def _field(page: str, form: str, field_id: str, at_ms: int, state: str = "ready") -> FieldInk:
    kind = "count" if form == "pv" else "upper"
    f = FieldInk(station_id="75056-0001", page=page, form=form, field_id=field_id, kind=kind)
    f.state, f.last_ink_ms, f.version = state, at_ms, 1
    return f


def test_minutes_are_read_before_older_contact_forms(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'order.db'}")
    create_schema(engine)
    with session(engine) as s, s.begin():
        s.add_all(
            [
                _field("9.1.1.1", "contact", "last_name", 1_000),
                _field("9.1.1.1", "contact", "email", 1_100),
                _field("9.1.1.2", "contact", "last_name", 2_000),
                _field("7.1.1.1", "pv", "ballots", 5_000),
                _field("7.1.1.1", "pv", "valid", 4_000),
                _field("7.1.1.2", "pv", "ballots", 3_000),
                _field("9.1.1.3", "contact", "last_name", 500, state="read"),
            ]
        )
    with session(engine) as s:
        page_of = {f.id: f.page for f in s.query(FieldInk)}
    groups = ready_groups(engine)
    assert [page_of[g[0]] for g in groups] == ["7.1.1.2", "7.1.1.1", "9.1.1.1", "9.1.1.2"]
    assert sum(len(g) for g in groups) == 6
    # the limit keeps the minutes
    assert {page_of[pk] for g in ready_groups(engine, limit=3) for pk in g} == {
        "7.1.1.1",
        "7.1.1.2",
    }
