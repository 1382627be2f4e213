"""Review: two independent keyings by different reviewers, a coordinator for disputes.

A :class:`~ingest.db.ReviewItem` (a low-confidence reading, or a finding that
needs a person) waits for two keyings by two *different* reviewers. Equal
keyings decide it; different ones make it disputed, and a coordinator (who
did not key it) decides. The rule (:func:`after_keying`, :func:`after_decision`)
is pure; :func:`key` and :func:`decide` apply it under a row lock and, in the
same transaction, apply the decision and append to the audit log:

- a PV reading's decided value goes into ``PvResult.values[field]`` (an int for
  a count field) and ``complete`` is computed again;
- a contact reading's decided value is encrypted into the contact; keyings and
  decisions of contact fields are stored encrypted too (personal data);
- a finding's decision (``confirmed`` or ``dismissed``) resolves it.

Reviewers see the item, the machine's proposal and the field's ink, never the
other keyings (independence); coordinators see the keyings of what they decide.
Modelled on kiesraad/abacus's two independent entries and coordinator.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from ingest import audit
from ingest.auth import Principal, Role
from ingest.crypto import ContactCipher
from ingest.db import (
    Contact,
    FieldInk,
    FindingRow,
    InkStroke,
    Keying,
    PvResult,
    Reading,
    ReviewItem,
    session,
)
from ingest.errors import ApiError
from ingest.reconcile import store_paper_findings
from pen.forms import FormLayout
from pen.ink import Ink, Stroke
from pen.ink_svg import ink_to_svg

FINDING_VALUES = ("confirmed", "dismissed")
_COUNT = re.compile(r"^\d{1,7}$")
MAX_VALUE = 200


class ReviewConflict(ApiError):
    """A keying or decision that the rule refuses (409)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(409, code, message)


def after_keying(state: str, keyings: Mapping[str, str], reviewer: str, value: str) -> str:
    """The item's state after ``reviewer`` keys ``value``; :class:`ReviewConflict` if refused.

    ``keyings`` maps reviewer -> value of the keyings so far (plaintext).
    """
    if state != "waiting":
        raise ReviewConflict("REVIEW.409", f"the item is {state}; it takes no more keyings")
    if reviewer in keyings:
        raise ReviewConflict(
            "REVIEW.409", "you keyed this item already; a second reviewer must key it"
        )
    if not keyings:
        return "waiting"
    (first,) = keyings.values()
    return "decided" if first == value else "disputed"


def after_decision(state: str, keyings: Mapping[str, str], coordinator: str) -> str:
    """``decided``, if ``coordinator`` may decide the item now; :class:`ReviewConflict` if not."""
    if state != "disputed":
        raise ReviewConflict(
            "REVIEW.409", f"the item is {state}; a coordinator decides disputed items only"
        )
    if coordinator in keyings:
        raise ReviewConflict(
            "REVIEW.411", "you keyed this item; another coordinator must decide it"
        )
    return "decided"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Target:
    """What an item is about: its field (reading) or its finding."""

    field: FieldInk | None
    finding: FindingRow | None

    @property
    def personal(self) -> bool:
        """A contact-form field: its values are personal data."""
        return self.field is not None and self.field.form == "contact"


def _target(s: Session, item: ReviewItem) -> Target:
    if item.kind == "reading":
        return Target(s.get(FieldInk, item.ref_id), None)
    return Target(None, s.get(FindingRow, item.ref_id))


def normalise(item: ReviewItem, target: Target, value: str) -> str:
    """The keyed value in canonical form, or 422 saying what is expected."""
    value = value.strip()
    if item.kind == "finding":
        if value not in FINDING_VALUES:
            raise ApiError(422, "REVIEW.422", f"a finding is keyed {' or '.join(FINDING_VALUES)}")
        return value
    if target.field is not None and target.field.kind == "count":
        if not _COUNT.fullmatch(value):
            raise ApiError(422, "REVIEW.422", "a count is keyed as digits only, e.g. 127")
        return str(int(value))
    if not value or len(value) > MAX_VALUE:
        raise ApiError(422, "REVIEW.422", f"key the value as written (1-{MAX_VALUE} characters)")
    return value


class Sealer:
    """Keyings and decisions of contact fields are stored encrypted; others as typed."""

    def __init__(self, cipher: ContactCipher, item: ReviewItem, target: Target) -> None:
        self._cipher, self._item, self._target = cipher, item, target

    def _where(self) -> tuple[str, str]:
        assert self._target.field is not None
        return self._target.field.page, f"review:{self._target.field.field_id}"

    def seal(self, value: str) -> str:
        return self._cipher.encrypt(*self._where(), value) if self._target.personal else value

    def open(self, stored: str) -> str:
        return self._cipher.decrypt(*self._where(), stored) if self._target.personal else stored


def _in_scope(who: Principal, item: ReviewItem) -> bool:
    return who.departement is None or item.departement == who.departement


def _locked_item(s: Session, who: Principal, item_id: int) -> ReviewItem:
    item = s.get(ReviewItem, item_id, with_for_update=True)
    if item is None or not _in_scope(who, item):
        raise ApiError(404, "HTTP.404", f"no review item {item_id} that you may see; check the id")
    return item


def _check_current(item: ReviewItem, target: Target) -> None:
    if item.kind == "reading" and (target.field is None or target.field.version != item.version):
        raise ReviewConflict(
            "REVIEW.410", "the field got more ink since; this item is superseded by a newer one"
        )


def _keyings(s: Session, item: ReviewItem, sealer: Sealer) -> dict[str, str]:
    rows = s.scalars(select(Keying).where(Keying.item_id == item.id).order_by(Keying.id))
    return {k.reviewer: sealer.open(k.value) for k in rows}


def _apply(
    s: Session,
    cipher: ContactCipher,
    item: ReviewItem,
    target: Target,
    value: str,
    pv_layout: FormLayout | None,
) -> None:
    """Put a decided value where it belongs (PV values, contact, finding status)."""
    if target.finding is not None:
        target.finding.status = "resolved"
        return
    fi = target.field
    assert fi is not None
    if fi.form == "contact":
        contact = s.scalar(select(Contact).where(Contact.page == fi.page))
        if contact is not None:
            sealed = cipher.encrypt(fi.page, fi.field_id, value)
            contact.encrypted = {**contact.encrypted, fi.field_id: sealed}
            contact.updated_ms = _now_ms()
        return
    if fi.form != "pv":
        return
    pv = s.get(PvResult, fi.station_id, with_for_update=True)
    if pv is None:
        return  # the pipeline writes the PV row; the decision is kept on the item meanwhile
    values = dict(pv.values)
    values[fi.field_id] = int(value) if fi.kind == "count" else value
    pv.values = values
    pv.complete = all(v is not None for v in values.values())
    pv.updated_ms = _now_ms()
    store_paper_findings(s, fi.station_id, pv.updated_ms, pv_layout)  # pen value against paper


@dataclass(frozen=True)
class Outcome:
    item_id: int
    state: str
    decision: str | None
    """The decided value (None while waiting or disputed; hidden for contact fields)."""


def _audit_detail(item: ReviewItem, target: Target, value: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"kind": item.kind, "state": item.state, "station_id": item.station_id}
    if target.field is not None:
        detail["field"] = target.field.field_id
    if not target.personal:
        detail["value"] = value
    return detail


def key(
    engine: Engine,
    cipher: ContactCipher,
    who: Principal,
    item_id: int,
    raw: str,
    pv_layout: FormLayout | None = None,
) -> Outcome:
    """Record ``who``'s keying of an item; decide it if it agrees with the first keying.

    ``pv_layout`` (the PV as printed) lets a decided PV value be checked against the
    paper with the pen's own ink read as on paper (:func:`ingest.reconcile.store_paper_findings`).
    """
    with session(engine) as s, s.begin():
        item = _locked_item(s, who, item_id)
        target = _target(s, item)
        _check_current(item, target)
        value = normalise(item, target, raw)
        sealer = Sealer(cipher, item, target)
        keyings = _keyings(s, item, sealer)
        item.state = after_keying(item.state, keyings, who.name, value)
        s.add(Keying(item_id=item.id, reviewer=who.name, value=sealer.seal(value), at_ms=_now_ms()))
        if target.finding is not None and target.finding.status == "open":
            target.finding.status = "in_review"
        if item.state == "decided":
            item.decision, item.decided_ms = sealer.seal(value), _now_ms()
            _apply(s, cipher, item, target, value, pv_layout)
        audit.append(
            s, who.actor, "review.key", f"review:{item.id}", _audit_detail(item, target, value)
        )
        shown = value if item.state == "decided" and not target.personal else None
        return Outcome(item.id, item.state, shown)


def decide(
    engine: Engine,
    cipher: ContactCipher,
    who: Principal,
    item_id: int,
    raw: str,
    pv_layout: FormLayout | None = None,
) -> Outcome:
    """A coordinator's decision of a disputed item."""
    with session(engine) as s, s.begin():
        item = _locked_item(s, who, item_id)
        target = _target(s, item)
        _check_current(item, target)
        value = normalise(item, target, raw)
        sealer = Sealer(cipher, item, target)
        item.state = after_decision(item.state, _keyings(s, item, sealer), who.name)
        item.decision, item.decided_ms = sealer.seal(value), _now_ms()
        _apply(s, cipher, item, target, value, pv_layout)
        audit.append(
            s, who.actor, "review.decide", f"review:{item.id}", _audit_detail(item, target, value)
        )
        return Outcome(item.id, item.state, None if target.personal else value)


@dataclass(frozen=True)
class ItemView:
    """What a person sees of an item (never other reviewers' keyings while it waits)."""

    id: int
    kind: str
    state: str
    station_id: str
    departement: str
    proposal: str | None
    alternatives: list[Any]
    field: dict[str, Any] | None
    finding: dict[str, Any] | None
    ink_svg: str | None
    keyed_by_you: bool
    keyings: list[dict[str, Any]] | None
    """Coordinators only, once the item is disputed or decided."""
    decision: str | None


def _ink_svg(s: Session, fi: FieldInk) -> str:
    rows = s.scalars(
        select(InkStroke)
        .where(InkStroke.page == fi.page, InkStroke.field_id == fi.field_id)
        .order_by(InkStroke.t_start_ms, InkStroke.id)
    )
    strokes = [
        Stroke(np.frombuffer(r.points, dtype="<f8").reshape(-1, 4).copy(), r.pen_serial)
        for r in rows
    ]
    return ink_to_svg(Ink.of(strokes), colour_by=None)


def _view(s: Session, cipher: ContactCipher, who: Principal, item: ReviewItem) -> ItemView:
    target = _target(s, item)
    sealer = Sealer(cipher, item, target)
    keyings = list(s.scalars(select(Keying).where(Keying.item_id == item.id).order_by(Keying.id)))
    coordinator = who.role in (Role.COORDINATOR, Role.HIGH_AUTHORITY)
    shown = None
    if coordinator and item.state != "waiting":
        shown = [
            {"reviewer": k.reviewer, "value": sealer.open(k.value), "at_ms": k.at_ms}
            for k in keyings
        ]
    field = finding = svg = None
    alternatives: list[Any] = []
    if target.field is not None:
        fi = target.field
        field = {
            "field_id": fi.field_id,
            "kind": fi.kind,
            "form": fi.form,
            "page": fi.page,
            "version": fi.version,
        }
        svg = _ink_svg(s, fi)
        reading = s.scalar(
            select(Reading)
            .where(Reading.field_pk == fi.id, Reading.version == item.version)
            .order_by(Reading.id.desc())
            .limit(1)
        )
        if reading is not None and not target.personal:
            alternatives = list(reading.alternatives)
    if target.finding is not None:
        f = target.finding
        finding = {
            "id": f.id,
            "code": f.code,
            "severity": f.severity,
            "message": f.message,
            "fields": f.fields,
            "evidence": f.evidence,
            "status": f.status,
        }
    decision = None
    if item.decision is not None and (coordinator or not target.personal):
        decision = sealer.open(item.decision)
    if target.personal or shown is not None:
        detail = {
            "kind": item.kind,
            "personal": target.personal,
            "keyings_shown": shown is not None,
        }
        audit.append(s, who.actor, "review.view", f"review:{item.id}", detail)
    return ItemView(
        id=item.id,
        kind=item.kind,
        state=item.state,
        station_id=item.station_id,
        departement=item.departement,
        proposal=None if target.personal else item.proposal,
        alternatives=alternatives,
        field=field,
        finding=finding,
        ink_svg=svg,
        keyed_by_you=any(k.reviewer == who.name for k in keyings),
        keyings=shown,
        decision=decision,
    )


def view(engine: Engine, cipher: ContactCipher, who: Principal, item_id: int) -> ItemView:
    """One item as ``who`` may see it; audited when it shows personal data or keyings."""
    with session(engine) as s, s.begin():
        item = s.get(ReviewItem, item_id)
        if item is None or not _in_scope(who, item):
            raise ApiError(
                404, "HTTP.404", f"no review item {item_id} that you may see; check the id"
            )
        return _view(s, cipher, who, item)


def next_item(
    engine: Engine, cipher: ContactCipher, who: Principal, state: str
) -> tuple[ItemView | None, int]:
    """The oldest ``state`` item in scope that ``who`` has not keyed, and how many there are."""
    keyed = select(Keying.item_id).where(Keying.reviewer == who.name)
    q = (
        select(ReviewItem)
        .outerjoin(FieldInk, (ReviewItem.kind == "reading") & (FieldInk.id == ReviewItem.ref_id))
        .where(
            ReviewItem.state == state,
            ReviewItem.id.not_in(keyed),
            or_(ReviewItem.kind != "reading", FieldInk.version == ReviewItem.version),
        )
    )
    if who.departement is not None:
        q = q.where(ReviewItem.departement == who.departement)
    with session(engine) as s, s.begin():
        items = list(s.scalars(q.order_by(ReviewItem.created_ms, ReviewItem.id).limit(1)))
        count = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        if not items:
            return None, count
        return _view(s, cipher, who, items[0]), count
