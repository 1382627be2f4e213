"""Chain and transmission rules are idempotent and do not depend on the order of their input."""

from __future__ import annotations

import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pen.batches import GENESIS_HASH, closing_code
from reconciliation import (
    PvState,
    ReceivedBatch,
    RejectedBatch,
    Severity,
    Transmission,
    check_transmission,
)

REASONS = ("gap", "fork", "replay", "bad_signature", "malformed", "too_large", "not_enrolled")


def _h(k: int, salt: int = 0) -> str:
    return GENESIS_HASH if k == 0 else hashlib.sha256(f"{k}:{salt}".encode()).hexdigest()


@st.composite
def transmissions(draw: st.DrawFn) -> Transmission:
    n = draw(st.integers(0, 12))
    dropped = draw(st.sets(st.integers(1, max(n, 1)), max_size=2))
    forked = draw(st.sets(st.integers(1, max(n, 1)), max_size=2))
    batches = [
        ReceivedBatch(k, _h(k), _h(k - 1), 1000 * k) for k in range(1, n + 1) if k not in dropped
    ]
    batches += [ReceivedBatch(k, _h(k, 1), _h(k - 1), 7 * k) for k in forked if k <= n]
    rejections = draw(
        st.lists(
            st.builds(
                RejectedBatch,
                st.sampled_from(REASONS),
                st.none() | st.integers(1, 20),
                st.integers(0, 10**6),
            ),
            max_size=8,
        )
    )
    closed = draw(st.booleans()) and n > 0
    code = draw(st.none() | st.sampled_from([closing_code(_h(n)), "AAAA-AAAA"]))
    return Transmission(
        tuple(batches),
        tuple(rejections),
        closed_ms=5_000 if closed else None,
        closed_seq=n if closed and n not in dropped else None,
        pv=draw(st.sampled_from(PvState)),
        pv_missing=tuple(draw(st.lists(st.sampled_from(["valid", "blank", "ballots"])))),
        deadline_ms=draw(st.none() | st.integers(0, 10_000)),
        at_ms=draw(st.integers(0, 10_000)),
        paper_closing_code=code if batches else None,
    )


def _shuffled(t: Transmission, seed: int) -> Transmission:
    rng = random.Random(seed)
    b, r = list(t.batches), list(t.rejections)
    rng.shuffle(b)
    rng.shuffle(r)
    return Transmission(
        tuple(b),
        tuple(r),
        t.closed_ms,
        t.closed_seq,
        t.pv,
        tuple(reversed(t.pv_missing)),
        t.deadline_ms,
        t.at_ms,
        t.paper_closing_code,
    )


@settings(max_examples=300, deadline=None)
@given(transmissions(), st.integers(0, 2**32 - 1))
def test_findings_are_idempotent_and_ignore_input_order(t: Transmission, seed: int) -> None:
    first = check_transmission(t, station_id="s")
    assert check_transmission(t, station_id="s") == first
    assert check_transmission(_shuffled(t, seed), station_id="s") == first
    keys = [(f.code, f.fields) for f in first]
    assert len(keys) == len(set(keys))  # one finding per code: ingest stores them by that key


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_an_honest_closed_station_has_no_finding(n: int, seed: int) -> None:
    batches = [ReceivedBatch(k, _h(k), _h(k - 1), k) for k in range(1, n + 1)]
    t = Transmission(
        tuple(batches),
        closed_ms=1,
        closed_seq=n,
        pv=PvState.COMPLETE,
        deadline_ms=0,
        at_ms=1,
        paper_closing_code=closing_code(_h(n)),
    )
    assert check_transmission(_shuffled(t, seed), station_id="s") == []


@settings(max_examples=200, deadline=None)
@given(transmissions())
def test_forks_and_bad_signatures_are_always_errors_and_duplicates_nothing(
    t: Transmission,
) -> None:
    findings = check_transmission(t, station_id="s")
    by_code = {f.code: f for f in findings}
    reasons = {r.reason for r in t.rejections}
    assert ("fork" in reasons) == ("F.403" in by_code)
    assert ("bad_signature" in reasons) == ("F.404" in by_code)
    assert ("replay" in reasons) == ("W.405" in by_code)
    errors = {f.code for f in findings if f.severity is Severity.ERROR}
    expected = {"F.403"} & set(by_code) | {"F.404"} & set(by_code)
    if t.pv is not PvState.COMPLETE and t.deadline_ms is not None and t.at_ms >= t.deadline_ms:
        expected |= {"F.410" if t.pv is PvState.NONE else "F.411"}
    assert errors - {"F.401", "F.402", "F.409"} == expected
    assert all(f.code.split(".")[1].startswith("4") for f in findings)
