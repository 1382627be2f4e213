"""Station status and findings as the API shows them, within the caller's scope.

A station's status gathers its kit and enrolment, chain head, batch and
rejection counts, whether its PV is complete, its open findings, and the
closing code of its chain head (:func:`pen.batches.closing_code`) once its PV is
complete: the president writes that code on the paper PV at the close, so the
two must match once the station's last batch is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select, true

from ingest.auth import Principal
from ingest.db import FindingRow, PvResult, Rejection, Station, StoredBatch, session
from ingest.geo import departement_of
from ingest.scope import scoped, sees_station
from pen.batches import closing_code

OPEN_FINDING = ("open", "in_review")


@dataclass(frozen=True)
class StationStatus:
    station_id: str
    departement: str
    enrolled: bool
    enrolled_at_ms: int | None
    head_seq: int
    batches: int
    last_batch_ms: int | None
    rejections: int
    pv_complete: bool
    open_findings: int
    closing_code: str | None


def _station_filter(who: Principal, column: Any) -> ColumnElement[bool]:
    """A SQL superset of the caller's stations (exact check in Python: ids carry the dept)."""
    if who.station_id is not None:
        return column == who.station_id  # type: ignore[no-any-return]
    if who.departement is not None:
        return column.like(f"{who.departement}%")  # type: ignore[no-any-return]
    return true()


def station_ids(engine: Engine, who: Principal) -> list[str]:
    """Every station id in the caller's scope, sorted."""
    q = select(Station.station_id).where(_station_filter(who, Station.station_id))
    with session(engine) as s:
        ids = s.scalars(q.order_by(Station.station_id))
        return [sid for sid in ids if sees_station(who, sid)]


def _counts(s: Any, column: Any, ids: Sequence[str], *aggs: Any) -> dict[str, Any]:
    rows = s.execute(select(column, *aggs).where(column.in_(ids)).group_by(column))
    return {r[0]: tuple(r[1:]) for r in rows}


def statuses(engine: Engine, ids: Sequence[str]) -> list[StationStatus]:
    """The status of each station in ``ids`` (which the caller has already scoped)."""
    if not ids:
        return []
    with session(engine) as s:
        stations = {
            st.station_id: st
            for st in s.scalars(select(Station).where(Station.station_id.in_(ids)))
        }
        batches = _counts(
            s, StoredBatch.station_id, ids, func.count(), func.max(StoredBatch.received_at_ms)
        )
        rejections = _counts(s, Rejection.station_id, ids, func.count())
        complete = _counts(s, PvResult.station_id, ids, PvResult.complete)
        findings = _counts(
            s,
            FindingRow.station_id,
            ids,
            func.count().filter(FindingRow.status.in_(OPEN_FINDING)),
        )
    out = []
    for sid in ids:
        st = stations.get(sid)
        if st is None:
            continue
        n_batches, last = batches.get(sid, (0, None))
        pv_complete = bool(complete.get(sid, (False,))[0])
        out.append(
            StationStatus(
                station_id=sid,
                departement=departement_of(sid),
                enrolled=st.public_key is not None,
                enrolled_at_ms=st.enrolled_at_ms,
                head_seq=st.head_seq,
                batches=int(n_batches),
                last_batch_ms=last,
                rejections=int(rejections.get(sid, (0,))[0]),
                pv_complete=pv_complete,
                open_findings=int(findings.get(sid, (0,))[0]),
                closing_code=closing_code(st.head_hash) if pv_complete else None,
            )
        )
    return out


@dataclass(frozen=True)
class FindingFilter:
    station_id: str | None = None
    departement: str | None = None
    code: str | None = None
    status: str | None = None


def findings(
    engine: Engine, who: Principal, f: FindingFilter, limit: int, offset: int
) -> tuple[int, list[FindingRow]]:
    """A page of findings in the caller's scope matching ``f``, newest first; and the total."""
    q = scoped(select(FindingRow), who, FindingRow.departement, FindingRow.station_id)
    for column, value in (
        (FindingRow.station_id, f.station_id),
        (FindingRow.departement, f.departement),
        (FindingRow.code, f.code),
        (FindingRow.status, f.status),
    ):
        if value is not None:
            q = q.where(column == value)
    with session(engine) as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(FindingRow.id.desc()).limit(limit).offset(offset))
        return total, list(rows)
