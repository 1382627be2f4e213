"""Property: a review item is only ever decided by two different reviewers agreeing, or by
a coordinator who did not key it deciding a dispute.

Random sequences of keyings and decisions (by reviewers, coordinators and the
high authority, with repeats and conflicting values) run through
:func:`ingest.review.key` and :func:`ingest.review.decide` on a real SQLite
database; afterwards the stored keyings, the item and the audit log must show
one of the two lawful paths, and the PV must hold the decided value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from ingest import review
from ingest.auth import Principal, Role
from ingest.crypto import DEV_CONTACT_KEY, ContactCipher
from ingest.db import (
    AuditEntry,
    FieldInk,
    Keying,
    PvResult,
    ReviewItem,
    Station,
    create_schema,
    make_engine,
    session,
)
from ingest.errors import ApiError

CIPHER = ContactCipher.from_text(DEV_CONTACT_KEY)
PEOPLE = {
    "r1": Role.REVIEWER,
    "r2": Role.REVIEWER,
    "r3": Role.REVIEWER,
    "c1": Role.COORDINATOR,
    "c2": Role.COORDINATOR,
    "ha": Role.HIGH_AUTHORITY,
}
KEYERS = ("r1", "r2", "r3", "ha")
DECIDERS = ("c1", "c2", "ha")


def _who(name: str) -> Principal:
    return Principal(abs(hash(name)) % 1000, name, PEOPLE[name], None, None)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path: Path = tmp_path_factory.mktemp("review") / "review.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    return engine


def _new_item(engine: Engine) -> tuple[int, str]:
    with session(engine) as s, s.begin():
        n = len(list(s.scalars(select(Station.station_id))))
        sid = f"75056-{n:04d}"
        s.add(Station(station_id=sid, enrol_code_hash="0" * 64))
        s.flush()
        s.add(PvResult(station_id=sid, departement="75", values={"valid": None}, updated_ms=0))
        fi = FieldInk(station_id=sid, page=f"1.1.1.{n}", form="pv", field_id="valid", kind="count")
        fi.version = 1
        s.add(fi)
        s.flush()
        item = ReviewItem(kind="reading", ref_id=fi.id, version=1, station_id=sid, departement="75")
        item.state, item.created_ms = "waiting", 0
        s.add(item)
        s.flush()
        return item.id, sid


actions = st.lists(
    st.one_of(
        st.tuples(st.just("key"), st.sampled_from(KEYERS), st.sampled_from(["12", "13", "012"])),
        st.tuples(st.just("decide"), st.sampled_from(DECIDERS), st.sampled_from(["12", "13"])),
    ),
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions)
def test_only_lawful_decisions(engine: Engine, steps: list[tuple[str, str, str]]) -> None:
    item_id, sid = _new_item(engine)
    for verb, name, value in steps:
        try:
            act = review.key if verb == "key" else review.decide
            act(engine, CIPHER, _who(name), item_id, value)
        except ApiError as refused:
            assert refused.status == 409
    with session(engine) as s:
        item = s.get(ReviewItem, item_id)
        assert item is not None
        keyings = list(
            s.scalars(select(Keying).where(Keying.item_id == item_id).order_by(Keying.id))
        )
        decisions = list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "review.decide", AuditEntry.target == f"review:{item_id}"
                )
            )
        )
        pv = s.get(PvResult, sid)
    assert len(keyings) <= 2 and len({k.reviewer for k in keyings}) == len(keyings)
    assert len(decisions) <= 1
    if item.state != "decided":
        assert item.decision is None and decisions == []
        assert pv is not None and pv.values["valid"] is None
        return
    by_agreement = (
        len(keyings) == 2
        and keyings[0].value == keyings[1].value == item.decision
        and not decisions
    )
    by_coordinator = (
        len(keyings) == 2
        and keyings[0].value != keyings[1].value
        and len(decisions) == 1
        and decisions[0].actor not in {f"user:{k.reviewer}" for k in keyings}
        and decisions[0].detail["value"] == item.decision
    )
    assert by_agreement != by_coordinator  # exactly one lawful path
    assert pv is not None and pv.values["valid"] == int(str(item.decision)) and pv.complete
