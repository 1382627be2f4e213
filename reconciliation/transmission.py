"""Chain and transmission (F.401-W.412): what a station sent, what was refused, what is missing.

Input is a :class:`Transmission`, plain data the centre gathers for one
station: the batches it stored (sequence number, hash, previous hash, when
received), the batches it rejected with their reason, whether and when the
station closed (the agent's ``StationClosed`` note), how far its PV got, the
results deadline and the time of the check, and the closing code read on the
paper PV if there is one. The checks:

- the stored chain itself: a missing sequence number (F.401), a batch that
  does not follow from the one before (F.402); the centre's intake refuses
  both, so either means stored data changed or intake failed;
- rejections, one finding per kind of reason: a fork (F.403) or a bad
  signature (F.404) is an error, a replay a warning (W.405), a gap the chain
  never filled a warning (W.406) and one it later filled an info (I.407),
  anything else a warning (W.408); a duplicate is acknowledged, never
  rejected, so it is nothing;
- the closing code on the paper against the chain's head at the close (F.409);
- at the results deadline: no PV (F.410), an incomplete PV (F.411), a station
  that never closed (W.412).

Pure and order-independent: batches and rejections may come in any order and
the findings are the same, sorted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pen.batches import GENESIS_HASH, closing_code
from reconciliation.catalogue import field_label, rule
from reconciliation.findings import EvidenceValue, Finding, ReconciliationError
from reconciliation.timeline import clock

#: Rejection reasons with a rule of their own (``gap`` is W.406 or I.407; others W.408).
REASON_CODES = {"fork": "F.403", "bad_signature": "F.404", "replay": "W.405"}
#: Sequence numbers quoted in a sentence (the evidence keeps them all).
QUOTED = 10
#: Characters a reader may take for the base32 letters of a closing code.
_LOOKALIKE = str.maketrans({"0": "O", "1": "I", "8": "B"})


@dataclass(frozen=True, slots=True)
class ReceivedBatch:
    """One batch the centre stored for the station."""

    seq: int
    hash: str
    prev_hash: str
    received_ms: int


@dataclass(frozen=True, slots=True)
class RejectedBatch:
    """One batch the centre refused for the station, with the stored reason."""

    reason: str
    """``gap``, ``fork``, ``replay``, ``bad_signature``, ``malformed``, ``too_large``, ..."""
    seq: int | None
    """The batch's sequence number, when it could be read."""
    received_ms: int


class PvState(enum.Enum):
    """How far the station's PV got."""

    NONE = "none"
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class Transmission:
    """What the centre knows of one station's transmission, at ``at_ms``."""

    batches: tuple[ReceivedBatch, ...] = ()
    rejections: tuple[RejectedBatch, ...] = ()
    closed_ms: int | None = None
    """When the station closed (its last ``StationClosed`` note); None: not closed."""
    closed_seq: int | None = None
    """The stored batch that carried that note: the chain's head at the close."""
    pv: PvState = PvState.NONE
    pv_missing: tuple[str, ...] = ()
    """PV fields without a value, when ``pv`` is incomplete."""
    deadline_ms: int | None = None
    """The results deadline; None: the deadline rules are not checked."""
    at_ms: int = 0
    """When the check runs; the deadline rules fire only at or after the deadline."""
    paper_closing_code: str | None = None
    """The closing code as read on the paper PV, if it has been read."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "batches", tuple(sorted(self.batches, key=_batch_key)))
        object.__setattr__(self, "rejections", tuple(sorted(self.rejections, key=_reject_key)))
        object.__setattr__(self, "pv_missing", tuple(sorted(set(self.pv_missing))))
        if any(b.seq < 1 for b in self.batches):
            raise ReconciliationError("a stored batch has a sequence number below 1")


def _batch_key(b: ReceivedBatch) -> tuple[int, str, str, int]:
    return (b.seq, b.hash, b.prev_hash, b.received_ms)


def _reject_key(r: RejectedBatch) -> tuple[str, int, int]:
    return (r.reason, -1 if r.seq is None else r.seq, r.received_ms)


def _seqs(seqs: Iterable[int | None]) -> tuple[int, ...]:
    return tuple(sorted({s for s in seqs if s is not None}))


def _quote(seqs: Sequence[int]) -> str:
    if not seqs:
        return "unreadable"
    shown = ", ".join(str(s) for s in seqs[:QUOTED])
    return shown if len(seqs) <= QUOTED else f"{shown} and {len(seqs) - QUOTED} more"


def check_chain_stored(t: Transmission, station_id: str) -> list[Finding]:
    """F.401 (missing sequence numbers) and F.402 (a batch not following the one before)."""
    out: list[Finding] = []
    if not t.batches:
        return out
    by_seq: dict[int, set[str]] = {}
    for b in t.batches:
        by_seq.setdefault(b.seq, set()).add(b.hash)
    head = max(by_seq)
    missing = tuple(n for n in range(1, head + 1) if n not in by_seq)
    if missing:
        evidence: dict[str, EvidenceValue] = {"head_seq": head, "missing_seqs": missing}
        out.append(
            rule("F.401").finding(
                station_id, (), evidence, head=head, count=len(missing), seqs=_quote(missing)
            )
        )
    broken = _seqs(
        b.seq
        for b in t.batches
        if len(by_seq[b.seq]) > 1
        or (b.seq == 1 and b.prev_hash != GENESIS_HASH)
        or (b.seq > 1 and b.seq - 1 in by_seq and b.prev_hash not in by_seq[b.seq - 1])
    )
    if broken:
        out.append(
            rule("F.402").finding(
                station_id,
                (),
                {"seqs": broken},
                count=len(broken),
                seqs=_quote(broken),
            )
        )
    return out


def check_rejections(t: Transmission, station_id: str) -> list[Finding]:
    """One finding per kind of rejection: F.403, F.404, W.405, W.406/I.407, W.408."""
    stored = {b.seq for b in t.batches}
    head = max(stored, default=0)
    groups: dict[str, list[RejectedBatch]] = {}
    for r in t.rejections:
        code = REASON_CODES.get(r.reason)
        if r.reason == "gap":
            code = "I.407" if r.seq is not None and r.seq in stored else "W.406"
        groups.setdefault(code or "W.408", []).append(r)
    out = []
    for code, rs in sorted(groups.items()):
        seqs = _seqs(r.seq for r in rs)
        first, last = min(r.received_ms for r in rs), max(r.received_ms for r in rs)
        reasons: dict[str, int] = {}
        for r in rs:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        evidence: dict[str, EvidenceValue] = {
            "count": len(rs),
            "seqs": seqs,
            "first_ms": first,
            "last_ms": last,
            "reasons": tuple(f"{k}:{v}" for k, v in sorted(reasons.items())),
        }
        out.append(
            rule(code).finding(
                station_id,
                (),
                evidence,
                count=len(rs),
                seqs=_quote(seqs),
                first=clock(first),
                last=clock(last),
                head=head,
                reasons=", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(reasons.items())),
            )
        )
    return out


def normalise_code(code: str) -> str:
    """A closing code as written by hand: upper case, no spaces, look-alike digits as letters."""
    bare = "".join(code.split()).replace("-", "").upper().translate(_LOOKALIKE)
    return f"{bare[:4]}-{bare[4:]}" if len(bare) == 8 else bare


def check_closing_code(t: Transmission, station_id: str) -> list[Finding]:
    """F.409: the closing code read on the paper PV is not the code of the chain's head at close."""
    if t.paper_closing_code is None or not t.batches:
        return []
    head_seq = t.closed_seq if t.closed_seq is not None else t.batches[-1].seq
    at_close = [b for b in t.batches if b.seq == head_seq]
    if not at_close:
        raise ReconciliationError(f"the station closed in batch {head_seq}, which is not stored")
    expected = closing_code(at_close[-1].hash)
    paper = normalise_code(t.paper_closing_code)
    if paper == expected:
        return []
    matches = _seqs(b.seq for b in t.batches if closing_code(b.hash) == paper)
    other = f" (the paper's code is that of batch {_quote(matches)})" if matches else ""
    evidence: dict[str, EvidenceValue] = {
        "paper": t.paper_closing_code,
        "expected": expected,
        "closed_seq": head_seq,
        "closed_ms": t.closed_ms,
        "matches_seqs": matches,
    }
    return [
        rule("F.409").finding(station_id, (), evidence, paper=paper, expected=expected, other=other)
    ]


def check_deadline(t: Transmission, station_id: str) -> list[Finding]:
    """F.410/F.411 (PV missing or incomplete) and W.412 (not closed), once the deadline passed."""
    if t.deadline_ms is None or t.at_ms < t.deadline_ms:
        return []
    deadline = clock(t.deadline_ms)
    base: dict[str, EvidenceValue] = {"deadline_ms": t.deadline_ms, "checked_ms": t.at_ms}
    out = []
    if t.pv is PvState.NONE:
        evidence = {**base, "batches": len(t.batches)}
        out.append(
            rule("F.410").finding(
                station_id, (), evidence, deadline=deadline, batches=len(t.batches)
            )
        )
    elif t.pv is PvState.INCOMPLETE:
        missing = ", ".join(f"«{field_label(f)}» ({f})" for f in t.pv_missing) or "fields unread"
        out.append(
            rule("F.411").finding(
                station_id,
                t.pv_missing,
                {**base, "missing": t.pv_missing},
                deadline=deadline,
                missing=missing,
            )
        )
    if t.closed_ms is None:
        last_ms = max((b.received_ms for b in t.batches), default=None)
        last = "never" if last_ms is None else clock(last_ms)
        out.append(
            rule("W.412").finding(
                station_id, (), {**base, "last_batch_ms": last_ms}, deadline=deadline, last=last
            )
        )
    return out


def check_transmission(t: Transmission, *, station_id: str) -> list[Finding]:
    """Every chain and transmission finding on one station, sorted by code then fields."""
    findings = (
        check_chain_stored(t, station_id)
        + check_rejections(t, station_id)
        + check_closing_code(t, station_id)
        + check_deadline(t, station_id)
    )
    return sorted(findings, key=Finding.sort_key)
