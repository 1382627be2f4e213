"""Chain and transmission rules (F.401-W.412) on plain data."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from pen.batches import GENESIS_HASH, closing_code
from reconciliation import (
    PvState,
    ReceivedBatch,
    ReconciliationError,
    RejectedBatch,
    Severity,
    Transmission,
    check_transmission,
)
from reconciliation.transmission import normalise_code

T0 = 1_318_179_600_000
DEADLINE = T0 + 4 * 3_600_000


def chain(n: int, start: int = 1) -> list[ReceivedBatch]:
    """A well-linked chain of batches ``start``..``n`` (hash of seq k: sha256 of k)."""

    def h(k: int) -> str:
        return GENESIS_HASH if k == 0 else hashlib.sha256(str(k).encode()).hexdigest()

    return [ReceivedBatch(k, h(k), h(k - 1), T0 + 1000 * k) for k in range(start, n + 1)]


def honest(n: int = 5) -> Transmission:
    batches = tuple(chain(n))
    return Transmission(
        batches,
        closed_ms=T0 + 3_600_000,
        closed_seq=n,
        pv=PvState.COMPLETE,
        deadline_ms=DEADLINE,
        at_ms=DEADLINE,
        paper_closing_code=closing_code(batches[-1].hash),
    )


def codes(t: Transmission) -> list[str]:
    return [f.code for f in check_transmission(t, station_id="01004-0008")]


def test_an_honest_transmission_has_no_finding() -> None:
    assert codes(honest()) == []
    assert codes(Transmission()) == []  # nothing sent, no deadline yet: nothing to say


def test_a_missing_stored_batch_is_a_gap_f401() -> None:
    t = replace(honest(), batches=tuple(b for b in chain(6) if b.seq != 3))
    (f,) = [f for f in check_transmission(t, station_id="s") if f.code == "F.401"]
    assert f.severity is Severity.ERROR
    assert f.evidence["missing_seqs"] == (3,)
    assert "lacks 1 batch(es): 3" in f.message


def test_a_batch_not_following_its_predecessor_is_a_fork_f402() -> None:
    b = chain(4)
    b[2] = replace(b[2], prev_hash="ab" * 32)
    assert "F.402" in codes(replace(honest(4), batches=tuple(b)))
    twin = replace(b[1], hash="cd" * 32)
    (f,) = [
        f
        for f in check_transmission(replace(honest(4), batches=(*chain(4), twin)), station_id="s")
        if f.code == "F.402"
    ]
    assert f.evidence["seqs"] == (2,)  # two hashes for 2; 3 still follows one of them


@pytest.mark.parametrize(
    ("reason", "code", "severity"),
    [
        ("fork", "F.403", Severity.ERROR),
        ("bad_signature", "F.404", Severity.ERROR),
        ("replay", "W.405", Severity.WARNING),
        ("malformed", "W.408", Severity.WARNING),
        ("too_large", "W.408", Severity.WARNING),
    ],
)
def test_rejections_by_reason(reason: str, code: str, severity: Severity) -> None:
    r = (RejectedBatch(reason, 3, T0 + 5), RejectedBatch(reason, 4, T0 + 9))
    (f,) = check_transmission(replace(honest(), rejections=r), station_id="s")
    assert (f.code, f.severity) == (code, severity)
    assert f.evidence["count"] == 2 and f.evidence["first_ms"] == T0 + 5


def test_a_gap_rejection_is_info_once_filled_and_a_warning_otherwise() -> None:
    filled = RejectedBatch("gap", 4, T0)
    beyond = RejectedBatch("gap", 9, T0)
    assert codes(replace(honest(5), rejections=(filled,))) == ["I.407"]
    assert codes(replace(honest(5), rejections=(filled, beyond))) == ["I.407", "W.406"]


def test_other_reasons_share_one_finding_that_names_them() -> None:
    r = (RejectedBatch("malformed", None, T0), RejectedBatch("wrong_station", 2, T0))
    (f,) = check_transmission(replace(honest(), rejections=r), station_id="s")
    assert f.code == "W.408"
    assert "1 malformed" in f.message and "1 wrong station" in f.message


def test_closing_code_on_paper() -> None:
    t = honest(5)
    written = t.paper_closing_code
    assert written is not None
    handwritten = written.lower().replace("-", " ").replace("O", "0").replace("I", "1")
    assert codes(replace(t, paper_closing_code=handwritten)) == []
    earlier = closing_code(t.batches[2].hash)
    (f,) = check_transmission(replace(t, paper_closing_code=earlier), station_id="s")
    assert f.code == "F.409" and f.evidence["matches_seqs"] == (3,)
    assert "that of batch 3" in f.message
    (g,) = check_transmission(replace(t, paper_closing_code="AAAA-AAAA"), station_id="s")
    assert g.code == "F.409" and g.evidence["matches_seqs"] == ()
    assert normalise_code(" abcd efgh ") == "ABCD-EFGH"


def test_the_code_is_the_head_at_the_close_not_later_batches() -> None:
    t = replace(honest(5), closed_seq=4)
    assert codes(t) == ["F.409"]  # the paper was given the code of 5
    assert codes(replace(t, paper_closing_code=closing_code(t.batches[3].hash))) == []
    with pytest.raises(ReconciliationError):
        check_transmission(replace(t, closed_seq=9), station_id="s")


def test_deadline_rules_fire_only_once_the_deadline_passed() -> None:
    none = replace(honest(), pv=PvState.NONE, closed_ms=None, closed_seq=None)
    assert codes(replace(none, at_ms=DEADLINE - 1)) == []
    assert codes(none) == ["F.410", "W.412"]
    part = replace(honest(), pv=PvState.INCOMPLETE, pv_missing=("valid", "blank"))
    (f,) = check_transmission(part, station_id="s")
    assert f.code == "F.411" and f.fields == ("blank", "valid")
    assert "«Bulletins blancs» (blank)" in f.message
    assert codes(replace(honest(), deadline_ms=None, pv=PvState.NONE)) == []


def test_a_stored_sequence_number_below_one_is_refused() -> None:
    with pytest.raises(ReconciliationError):
        Transmission((ReceivedBatch(0, "a", "b", 0),))
