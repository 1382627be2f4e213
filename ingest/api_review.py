"""Review routes (``/v1/review``) and the audit log route (``/v1/audit``).

Reviewers key items, coordinators decide disputed ones (:mod:`ingest.review`);
the high authority may do both and reads the audit log with its verification.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ingest import audit, review
from ingest.access import require
from ingest.auth import Principal
from ingest.crypto import ContactCipher
from ingest.errors import ApiError
from ingest.layouts import layouts
from ingest.scope import PageParams
from pen.forms import FormLayout

READERS = require("reviewer", "coordinator", "high_authority")
KEYERS = require("reviewer", "high_authority")
DECIDERS = require("coordinator", "high_authority")
AUTHORITY = require("high_authority")
ItemId = Annotated[int, Path(ge=1, le=2**62)]


def cipher_of(request: Request) -> ContactCipher:
    return ContactCipher.from_text(request.app.state.settings.contact_key.get_secret_value())


class KeyingOut(BaseModel):
    reviewer: str
    value: str
    at_ms: int


class ReviewItemOut(BaseModel):
    id: int
    kind: str = Field(description="reading (a field) or finding")
    state: str = Field(description="waiting, disputed or decided")
    station_id: str
    departement: str
    proposal: str | None = Field(description="what the machine read (never for contact fields)")
    alternatives: list[Any]
    field: dict[str, Any] | None
    finding: dict[str, Any] | None
    ink_svg: str | None = Field(description="the field's strokes as SVG")
    keyed_by_you: bool
    keyings: list[KeyingOut] | None = Field(
        description="coordinators only, once the item is disputed or decided"
    )
    decision: str | None


class ReviewNext(BaseModel):
    item: ReviewItemOut | None
    waiting: int = Field(description="items in this state that you have not keyed")


class KeyIn(BaseModel):
    value: str = Field(min_length=1, max_length=review.MAX_VALUE)


class OutcomeOut(BaseModel):
    item_id: int
    state: str
    decision: str | None


def _out(v: review.ItemView) -> ReviewItemOut:
    return ReviewItemOut.model_validate(v.__dict__)


router = APIRouter(prefix="/v1", tags=["review and audit"])


@router.get("/review/next", response_model=ReviewNext)
async def get_next(
    request: Request,
    state: Annotated[str, Query(pattern="^(waiting|disputed)$")] = "waiting",
    who: Principal = READERS,
) -> ReviewNext:
    """The oldest item you have not keyed; coordinators ask for ``state=disputed``."""
    if state == "disputed" and who.role not in ("coordinator", "high_authority"):
        raise ApiError(403, "AUTH.403", "only coordinators see disputed items")
    engine = request.app.state.engine
    item, n = await run_in_threadpool(review.next_item, engine, cipher_of(request), who, state)
    return ReviewNext(item=_out(item) if item else None, waiting=n)


@router.get("/review/{item_id}", response_model=ReviewItemOut)
async def get_item(request: Request, item_id: ItemId, who: Principal = READERS) -> ReviewItemOut:
    """One item: proposal and ink; other keyings only for coordinators of disputed items."""
    engine = request.app.state.engine
    return _out(await run_in_threadpool(review.view, engine, cipher_of(request), who, item_id))


def _pv_layout(request: Request) -> FormLayout:
    """The PV as printed for this election (its candidates are the service's settings)."""
    return layouts(tuple(request.app.state.settings.pv_candidates)).pv


@router.post("/review/{item_id}/keyings", response_model=OutcomeOut, status_code=201)
async def post_keying(
    request: Request, item_id: ItemId, body: KeyIn, who: Principal = KEYERS
) -> OutcomeOut:
    """Key the value you read; the second reviewer's keying decides or disputes the item."""
    engine = request.app.state.engine
    done = await run_in_threadpool(
        review.key, engine, cipher_of(request), who, item_id, body.value, _pv_layout(request)
    )
    return OutcomeOut(**done.__dict__)


@router.post("/review/{item_id}/decision", response_model=OutcomeOut)
async def post_decision(
    request: Request, item_id: ItemId, body: KeyIn, who: Principal = DECIDERS
) -> OutcomeOut:
    """A coordinator decides a disputed item (not one they keyed)."""
    engine = request.app.state.engine
    done = await run_in_threadpool(
        review.decide, engine, cipher_of(request), who, item_id, body.value, _pv_layout(request)
    )
    return OutcomeOut(**done.__dict__)


class AuditEntryOut(BaseModel):
    seq: int
    at_ms: int
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class VerificationOut(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str = Field(description="publish it elsewhere to anchor the chain")
    bad_seq: int | None
    problem: str | None


class AuditPage(BaseModel):
    verification: VerificationOut
    total: int
    limit: int
    offset: int
    items: list[AuditEntryOut] = Field(description="newest first")


@router.get("/audit", response_model=AuditPage)
async def get_audit(
    request: Request,
    page: PageParams,
    action: Annotated[str | None, Query(max_length=48)] = None,
    who: Principal = AUTHORITY,
) -> AuditPage:
    """The audit log, newest first, with the verification of the whole chain."""
    engine = request.app.state.engine
    checked = await run_in_threadpool(audit.verify_audit, engine)
    total, rows = await run_in_threadpool(audit.entries, engine, page.limit, page.offset, action)
    return AuditPage(
        verification=VerificationOut(**checked.__dict__),
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in rows],
    )
