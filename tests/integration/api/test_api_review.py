"""The review workflow over HTTP on SQLite and PostgreSQL: keyings, disputes, decisions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ingest.audit import verify_audit
from ingest.crypto import DEV_CONTACT_KEY, ContactCipher
from ingest.db import (
    AuditEntry,
    Contact,
    FieldInk,
    FindingRow,
    Keying,
    PvResult,
    ReviewItem,
    session,
)
from tests.api_world import MARSEILLE, PARIS, T0, engine_of, make_users, seed


def _key(client: TestClient, h: dict[str, str], item: int, value: str) -> dict[str, object]:
    r = client.post(f"/v1/review/{item}/keyings", json={"value": value}, headers=h)
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_two_agreeing_reviewers_decide_and_the_pv_gets_the_value(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    world = seed(engine)
    item = world.review_items["reading75"]

    first = client.get("/v1/review/next", headers=h["rev1"]).json()
    assert first["waiting"] == 3 and first["item"]["id"] == item
    shown = first["item"]
    assert shown["proposal"] == "21" and shown["alternatives"][1] == ["27", 0.35]
    assert shown["field"]["field_id"] == "candidate_2" and shown["ink_svg"].count("<polyline") == 2
    assert shown["keyings"] is None and shown["keyed_by_you"] is False

    assert _key(client, h["rev1"], item, "27") == {
        "item_id": item,
        "state": "waiting",
        "decision": None,
    }
    again = client.post(f"/v1/review/{item}/keyings", json={"value": "27"}, headers=h["rev1"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "REVIEW.409"
    mine = client.get(f"/v1/review/{item}", headers=h["rev1"]).json()
    assert mine["keyed_by_you"] is True and mine["keyings"] is None
    other = client.get(f"/v1/review/{item}", headers=h["rev2"]).json()
    assert other["keyings"] is None and "27" not in str(other["decision"])  # independence
    assert client.get("/v1/review/next", headers=h["rev1"]).json()["item"]["id"] != item

    bad = client.post(f"/v1/review/{item}/keyings", json={"value": "2 7"}, headers=h["rev2"])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "REVIEW.422"
    assert _key(client, h["rev2"], item, "027") == {
        "item_id": item,
        "state": "decided",
        "decision": "27",
    }
    late = client.post(f"/v1/review/{item}/keyings", json={"value": "27"}, headers=h["rev3"])
    assert late.status_code == 409

    with session(engine) as s:
        pv = s.get(PvResult, PARIS[1])
        assert pv is not None and pv.values["candidate_2"] == 27 and pv.complete is True
    nat = client.get("/v1/results/departements/75", headers=h["ha"]).json()
    assert nat["stations_reporting"] == 2  # the reviewed PV now counts
    assert verify_audit(engine).ok


def test_a_dispute_goes_to_a_coordinator_who_did_not_key_it(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    world = seed(engine)
    item = world.review_items["reading13"]
    early = client.post(f"/v1/review/{item}/decision", json={"value": "41"}, headers=h["coord"])
    assert early.status_code == 409  # still waiting: reviewers first
    _key(client, h["rev1"], item, "14")
    assert _key(client, h["rev2"], item, "41")["state"] == "disputed"
    assert client.get(f"/v1/review/{item}", headers=h["rev2"]).json()["keyings"] is None
    r = client.post(f"/v1/review/{item}/decision", json={"value": "41"}, headers=h["rev1"])
    assert r.status_code == 403

    queue = client.get("/v1/review/next?state=disputed", headers=h["coord"]).json()
    assert queue["item"]["id"] == item
    assert {(k["reviewer"], k["value"]) for k in queue["item"]["keyings"]} == {
        ("rev1", "14"),
        ("rev2", "41"),
    }
    assert client.get("/v1/review/next?state=disputed", headers=h["rev3"]).status_code == 403
    r = client.post(f"/v1/review/{item}/decision", json={"value": "41"}, headers=h["coord"])
    assert r.status_code == 200 and r.json()["state"] == "decided"
    with session(engine) as s:
        pv = s.get(PvResult, MARSEILLE[1])
        assert pv is not None and pv.values["candidate_3"] == 41
        acts = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("review.%"))))
    assert acts.count("review.key") == 2 and acts.count("review.decide") == 1
    again = client.post(f"/v1/review/{item}/decision", json={"value": "14"}, headers=h["ha"])
    assert again.status_code == 409


def test_findings_are_reviewed_and_resolved(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    world = seed(engine)
    item = world.review_items["finding75"]
    shown = client.get(f"/v1/review/{item}", headers=h["rev1"]).json()
    assert shown["finding"]["code"] == "R.101" and shown["ink_svg"] is None
    maybe = client.post(f"/v1/review/{item}/keyings", json={"value": "maybe"}, headers=h["rev1"])
    assert maybe.status_code == 422
    _key(client, h["rev1"], item, "confirmed")
    with session(engine) as s:
        assert s.get(FindingRow, world.findings[PARIS[0]]).status == "in_review"  # type: ignore[union-attr]
    assert _key(client, h["rev2"], item, "dismissed")["state"] == "disputed"
    r = client.post(f"/v1/review/{item}/decision", json={"value": "confirmed"}, headers=h["ha"])
    assert r.json()["decision"] == "confirmed"
    with session(engine) as s:
        assert s.get(FindingRow, world.findings[PARIS[0]]).status == "resolved"  # type: ignore[union-attr]


def test_regional_reviewer_scope_and_superseded_items(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    world = seed(engine)
    nxt = client.get("/v1/review/next", headers=h["rev13"]).json()
    assert nxt["waiting"] == 1 and nxt["item"]["id"] == world.review_items["reading13"]
    paris = world.review_items["reading75"]
    assert client.get(f"/v1/review/{paris}", headers=h["rev13"]).status_code == 404
    r = client.post(f"/v1/review/{paris}/keyings", json={"value": "3"}, headers=h["rev13"])
    assert r.status_code == 404

    with session(engine) as s, s.begin():
        s.execute(update(FieldInk).where(FieldInk.field_id == "candidate_3").values(version=2))
    r = client.post(
        f"/v1/review/{world.review_items['reading13']}/keyings",
        json={"value": "3"},
        headers=h["rev1"],
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "REVIEW.410"
    assert client.get("/v1/review/next", headers=h["rev13"]).json() == {"item": None, "waiting": 0}


def test_contact_fields_are_keyed_without_plaintext_at_rest(client: TestClient) -> None:
    engine = engine_of(client)
    h = make_users(engine)
    seed(engine)
    cipher = ContactCipher.from_text(DEV_CONTACT_KEY)
    page = "1.2.3.0"
    with session(engine) as s, s.begin():
        fi = FieldInk(
            station_id=PARIS[0],
            page=page,
            form="contact",
            field_id="email",
            kind="email_char",
            version=1,
            state="read",
            last_ink_ms=T0,
        )
        s.add(fi)
        s.flush()
        item = ReviewItem(
            kind="reading",
            ref_id=fi.id,
            version=1,
            station_id=PARIS[0],
            departement="75",
            proposal=None,
            created_ms=T0,
        )
        s.add(item)
        s.flush()
        item_id = item.id
    shown = client.get(f"/v1/review/{item_id}", headers=h["rev1"]).json()
    assert shown["proposal"] is None and shown["alternatives"] == []
    _key(client, h["rev1"], item_id, "jeanne.martin@example.fr")
    done = _key(client, h["rev2"], item_id, " jeanne.martin@example.fr ")
    assert done["state"] == "decided" and done["decision"] is None  # not echoed
    with session(engine) as s:
        stored = list(s.scalars(select(Keying.value).where(Keying.item_id == item_id)))
        contact = s.scalar(select(Contact).where(Contact.page == page))
        details = [str(e.detail) for e in s.scalars(select(AuditEntry))]
        decided = s.get(ReviewItem, item_id)
    assert len(stored) == 2 and not any("jeanne" in v for v in stored)
    assert decided is not None and "jeanne" not in str(decided.decision)
    assert contact is not None
    assert cipher.decrypt(page, "email", contact.encrypted["email"]) == "jeanne.martin@example.fr"
    assert not any("jeanne" in d for d in details)
    assert client.get(f"/v1/review/{item_id}", headers=h["rev1"]).json()["decision"] is None
    assert client.get(f"/v1/review/{item_id}", headers=h["coord"]).json()["decision"] == (
        "jeanne.martin@example.fr"
    )
