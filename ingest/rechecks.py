"""The pipeline's re-checks: reconciliation that is due because something else happened.

Digitisation reconciles a PV when its readings change. Three other events
call for a check, each found from a :class:`~ingest.db.PipelineCursor`:

- a station closed (its agent's ``StationClosed`` note, in a batch the
  assembly has already taken: this cursor trails the assembly's, so it sees
  batches in the same order and never ahead of it), or one of its batches
  was rejected: the chain and transmission rules run on the station;
- the results deadline (:attr:`~ingest.settings.Settings.results_deadline_ms`)
  passed: the transmission rules run once on every station, which is when a
  missing or incomplete PV and a station that never closed become findings;
- review decided a PV reading (an audited ``review.key``/``review.decide`` of
  kind ``reading``, read from the audit log, whose sequence numbers follow the
  commit order): the station's PV is recomputed and reconciled again.

Each station is checked in its own transaction under its row lock, like
digitisation. Run by :func:`ingest.pipeline.run_once` and each pipeline turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ingest.assembly import CLOSE_KINDS, stored_events
from ingest.assembly import CURSOR as ASSEMBLY_CURSOR
from ingest.db import AuditEntry, PipelineCursor, Rejection, Station, StoredBatch, session
from ingest.digitise import _pv as recompute_pv  # the one place a PV is computed from readings
from ingest.layouts import layouts
from ingest.reconcile import store_transmission_findings
from ingest.settings import Settings

log = structlog.get_logger(__name__)

CLOSE_CURSOR = "transmission"
"""Last stored batch id looked at for close notes."""
REJECT_CURSOR = "rejections"
"""Last rejection id looked at."""
REVIEW_CURSOR = "review"
"""Last audit sequence number looked at for review decisions."""
DEADLINE_CURSOR = "deadline"
"""The deadline (epoch ms) whose pass over every station is done."""
REVIEW_ACTIONS = ("review.key", "review.decide")
#: Most batches, rejections or audit entries read in one pass (the rest: next turn).
CHUNK = 500


@dataclass(slots=True)
class RecheckStats:
    """What a pass of the re-checks did."""

    transmissions: int = 0
    pvs: int = 0
    moved: bool = False
    """A cursor moved: there may be more to look at."""


Moves = dict[str, int]
"""New cursor positions, written once the checks they lead to are done."""


def _position(s: Session, name: str) -> int:
    return s.scalar(select(PipelineCursor.last_id).where(PipelineCursor.name == name)) or 0


def _closed_stations(s: Session, moves: Moves) -> set[str]:
    """Stations with a close note in batches newer than the cursor (up to the assembly's)."""
    after, upto = _position(s, CLOSE_CURSOR), _position(s, ASSEMBLY_CURSOR)
    rows = s.execute(
        select(StoredBatch.id, StoredBatch.station_id, StoredBatch.body)
        .where(StoredBatch.id > after, StoredBatch.id <= upto)
        .order_by(StoredBatch.id)
        .limit(CHUNK)
    ).all()
    out = set()
    for pk, station_id, body in rows:
        moves[CLOSE_CURSOR] = pk
        if any(
            summary.get("source") == "agent" and summary.get("kind") in CLOSE_KINDS
            for _, summary in stored_events(body)
        ):
            out.add(station_id)
    return out


def _rejected_stations(s: Session, moves: Moves) -> set[str]:
    rows = s.execute(
        select(Rejection.id, Rejection.station_id)
        .where(Rejection.id > _position(s, REJECT_CURSOR))
        .order_by(Rejection.id)
        .limit(CHUNK)
    ).all()
    if rows:
        moves[REJECT_CURSOR] = rows[-1][0]
    return {sid for _, sid in rows}


def _reviewed_stations(s: Session, moves: Moves) -> set[str]:
    """Stations where review decided a reading since the cursor."""
    rows = s.scalars(
        select(AuditEntry)
        .where(AuditEntry.seq > _position(s, REVIEW_CURSOR), AuditEntry.action.in_(REVIEW_ACTIONS))
        .order_by(AuditEntry.seq)
        .limit(CHUNK)
    ).all()
    if rows:
        moves[REVIEW_CURSOR] = rows[-1].seq
    return {
        str(e.detail.get("station_id"))
        for e in rows
        if e.detail.get("kind") == "reading" and e.detail.get("state") == "decided"
    }


def _deadline_stations(s: Session, settings: Settings, at_ms: int, moves: Moves) -> set[str]:
    """Every station, once, when the results deadline has passed."""
    deadline = settings.results_deadline_ms
    if deadline is None or at_ms < deadline or _position(s, DEADLINE_CURSOR) == deadline:
        return set()
    moves[DEADLINE_CURSOR] = deadline
    return set(s.scalars(select(Station.station_id)))


def _move(engine: Engine, moves: Moves) -> None:
    with session(engine) as s, s.begin():
        for name, last_id in moves.items():
            cur = s.get(PipelineCursor, name, with_for_update=True)
            if cur is None:
                s.add(PipelineCursor(name=name, last_id=last_id))
            else:
                cur.last_id = last_id


def recheck(engine: Engine, settings: Settings, *, at_ms: int | None = None) -> RecheckStats:
    """Run the checks that are due, then move the cursors past what led to them.

    A pass that fails half way moves nothing: the next one does it all again (the
    checks are idempotent). One pipeline per database, so nothing else moves them.
    """
    at = at_ms if at_ms is not None else time.time_ns() // 1_000_000
    moves: Moves = {}
    with session(engine) as s:
        transmissions = (
            _closed_stations(s, moves)
            | _rejected_stations(s, moves)
            | _deadline_stations(s, settings, at, moves)
        )
        pvs = _reviewed_stations(s, moves)
        wanted = transmissions | pvs
        known = set(s.scalars(select(Station.station_id).where(Station.station_id.in_(wanted))))
    stats = RecheckStats()
    layout = layouts(tuple(settings.pv_candidates)).pv
    for station_id in sorted(known):
        with session(engine) as s, s.begin():
            s.get(Station, station_id, with_for_update=True)
            if station_id in pvs:
                recompute_pv(s, settings, station_id, layout, at)
                stats.pvs += 1
            if station_id in transmissions:
                store_transmission_findings(s, settings, station_id, at)
                stats.transmissions += 1
    if moves:
        _move(engine, moves)
        stats.moved = True
    if stats.transmissions or stats.pvs:
        log.info("recheck.done", transmissions=stats.transmissions, pvs=stats.pvs)
    return stats
