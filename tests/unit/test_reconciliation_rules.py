"""Each reconciliation rule fires on a crafted PV and stays quiet on an honest one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pen.forms import load_form
from pen.ink import Ink, Stroke
from pen.page import PageAddress
from reconciliation import (
    Finding,
    PvCounts,
    PvTimeline,
    ReconciliationConfig,
    ReconciliationError,
    Severity,
    StationContext,
    check_pv,
    sorted_strokes,
)

PV = load_form("pv", 1)
PAGE = PageAddress(70, 1, 2, 3)
CLOSING = 1_318_179_600_000.0  # 2011-10-09 19:00 Paris
S = 1000.0
MIN = 60 * S
HONEST = PvCounts(
    signatures=500,
    ballots=500,
    blank=5,
    spoiled=3,
    valid=492,
    candidates=(150, 3, 190, 85, 34, 30),
    contributions=500,
    closing_time="1900",
)
VALUES = {
    "signatures": "500",
    "ballots": "500",
    "blank": "5",
    "valid": "492",
    "candidate_3": "190",
    "closing_time": "1900",
}


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def only(findings: list[Finding], code: str) -> Finding:
    hits = [f for f in findings if f.code == code]
    assert len(hits) == 1, codes(findings)
    return hits[0]


def digit(field: str, cell: int, t0: float, pen: str = "P1", dx: float = 0.0) -> Stroke:
    """A small stroke inside one comb cell of the PV, lasting 400 ms."""
    r = PV.field(field).boxes[cell].rect
    x = r.x + r.width * np.array([0.3, 0.5, 0.7]) + dx
    y = r.y + r.height * np.array([0.3, 0.6, 0.8])
    return Stroke.from_arrays(x, y, t0 + np.array([0.0, 200.0, 400.0]), pen_serial=pen, page=PAGE)


def honest_ink(start: float = CLOSING + 40 * MIN) -> dict[str, list[Stroke]]:
    """Counts written right-aligned, 3 s a digit, 20 s between fields; signed after."""
    ink: dict[str, list[Stroke]] = {}
    t = start
    for fid, text in VALUES.items():
        cells = len(PV.field(fid).boxes)
        ink[fid] = [digit(fid, cells - len(text) + k, t + 3 * S * k) for k in range(len(text))]
        t += 20 * S + 3 * S * len(text)
    ink["president_signature"] = [
        Stroke.from_arrays(
            [100, 120, 140],
            [260, 270, 262],
            [t + 60 * S, t + 61 * S, t + 62 * S],
            pen_serial="P1",
            page=PAGE,
        )
    ]
    return ink


def timeline(ink: dict[str, list[Stroke]], **ctx: object) -> PvTimeline:
    station = StationContext(
        **{"pen_serials": frozenset({"P1", "P2"}), "closing_ms": CLOSING, **ctx}  # type: ignore[arg-type]
    )
    return PvTimeline({k: Ink.of(v) for k, v in ink.items()}, station, PV)


def check(counts: PvCounts = HONEST, ink: dict[str, list[Stroke]] | None = None, **ctx: object):
    tl = None if ink is None else timeline(ink, **ctx)
    return check_pv(counts, station_id="75-001", timeline=tl)


def test_honest_pv_and_ink_give_no_finding() -> None:
    assert check(HONEST, honest_ink()) == []


@pytest.mark.parametrize(
    ("change", "code", "fields"),
    [
        ({"blank": -1}, "F.001", ("blank",)),
        ({"signatures": 30_000}, "F.002", ("signatures",)),
        ({"closing_time": "19h"}, "F.003", ("closing_time",)),
        ({"valid": None}, "W.010", ("valid",)),
        (
            {"candidates": (150, 3, 191, 85, 34, 30)},
            "F.202",
            ("valid", *(f"candidate_{i}" for i in range(1, 7))),
        ),
        (
            {"ballots": 499, "signatures": 499, "contributions": 499},
            "F.203",
            ("ballots", "blank", "spoiled", "valid"),
        ),
        ({"signatures": 497, "contributions": 497}, "F.204", ("signatures", "ballots")),
        ({"signatures": 515, "contributions": 515}, "W.203", ("signatures", "ballots")),
        ({"contributions": 499}, "W.205", ("signatures", "contributions")),
    ],
)
def test_arithmetic_rule_fires(
    change: dict[str, object], code: str, fields: tuple[str, ...]
) -> None:
    found = only(check(replace(HONEST, **change)), code)  # type: ignore[arg-type]
    assert found.fields == fields
    assert found.station_id == "75-001"
    assert found.message and found.action


def test_sum_rules_give_the_difference_as_evidence() -> None:
    f202 = only(check(replace(HONEST, candidates=(150, 3, 240, 85, 34, 30))), "F.202")
    assert f202.evidence["difference"] == 50
    assert f202.evidence["candidates_total"] == 542
    assert "542" in f202.message and "«Suffrages exprimés»" in f202.message
    f203 = only(check(replace(HONEST, spoiled=10)), "F.203")
    assert f203.evidence["difference"] == 7 and f203.evidence["ballots"] == 500


def test_ballot_stuffing_is_an_error_and_a_small_shortfall_is_not_flagged() -> None:
    stuffed = only(check(replace(HONEST, signatures=490, contributions=490)), "F.204")
    assert stuffed.severity is Severity.ERROR
    assert stuffed.evidence == {"ballots": 500, "signatures": 490}
    # 14 missing: under the absolute floor of 15; 15 missing of 1000 is under 2%.
    assert check(replace(HONEST, signatures=514, contributions=514)) == []
    big = replace(
        HONEST, signatures=1015, ballots=1000, valid=992, candidates=(650, 3, 190, 85, 34, 30)
    )
    assert "W.203" not in codes(check(replace(big, contributions=1015)))


def test_blank_and_spoiled_shares_and_zero_ballots() -> None:
    blank = replace(HONEST, blank=15, valid=482, candidates=(140, 3, 190, 85, 34, 30))
    assert codes(check(blank)) == ["W.201"]
    assert check(replace(blank, blank=14, valid=483, candidates=(141, 3, 190, 85, 34, 30))) == []
    spoiled = replace(HONEST, spoiled=15, valid=480, candidates=(138, 3, 190, 85, 34, 30))
    assert only(check(spoiled), "W.202").evidence == {"spoiled": 15, "ballots": 500}
    empty = PvCounts(0, 0, 0, 0, 0, (0, 0), 0, "1900")
    assert codes(check(empty)) == ["W.204"]


def test_unread_values_are_named_and_skip_the_rules_that_need_them() -> None:
    findings = check(replace(HONEST, ballots=None, closing_time=None))
    assert codes(findings) == ["W.010", "W.010"]
    assert sorted(f.fields for f in findings) == [("ballots",), ("closing_time",)]
    assert all("could not be read" in f.message for f in findings)


def test_capacity_is_configurable() -> None:
    small = ReconciliationConfig(max_station_count=400)
    found = check_pv(HONEST, station_id="x", config=small)
    assert {f.code for f in found} == {"F.002"}
    assert {f.fields for f in found} == {
        ("signatures",),
        ("ballots",),
        ("valid",),
        ("contributions",),
    }


def test_bad_input_and_config_raise_the_package_error() -> None:
    with pytest.raises(ReconciliationError):
        replace(HONEST, blank=1.5)
    with pytest.raises(ReconciliationError):
        ReconciliationConfig(blank_ratio=0)


# --- timeline -------------------------------------------------------------------------


def test_late_count_w501() -> None:
    ink = honest_ink()
    ink["candidate_3"].append(digit("candidate_3", 0, CLOSING + 70 * MIN))
    found = only(check(ink=ink, signed_ms=CLOSING + 80 * MIN), "W.501")
    assert found.fields == ("candidate_3",)
    assert found.evidence["stroke_indices"] == (3,)
    assert found.evidence["stroke_start_ms"] == (CLOSING + 70 * MIN,)


def test_writing_after_the_signature_f502() -> None:
    ink = honest_ink()
    signed = ink["president_signature"][0].start_ms
    ink["ballots"].append(digit("ballots", 1, signed + 5 * MIN))
    found = only(check(ink=ink), "F.502")
    assert found.fields == ("ballots",)
    assert found.evidence["signed_ms"] == signed
    assert found.evidence["pen_serials"] == ("P1",)


def test_writing_after_closing_f503_and_before_closing_w507() -> None:
    late = honest_ink(start=CLOSING + 5 * 60 * MIN)
    found = check(ink=late)
    assert {f.code for f in found} == {"F.503"}
    assert {f.fields[0] for f in found} == set(VALUES)
    early = honest_ink(start=CLOSING - 60 * MIN)
    assert {f.code for f in check(ink=early)} == {"W.507"}


def test_ink_on_ink_w504() -> None:
    ink = honest_ink()
    first = ink["candidate_3"][0]
    ink["candidate_3"].append(digit("candidate_3", 2, first.start_ms + 2 * MIN, dx=0.5))
    found = only(check(ink=ink), "W.504")
    assert found.fields == ("candidate_3",)
    assert found.evidence["cells"] == ("candidate_3.2",)
    assert found.evidence["stroke_indices"] == (3,)
    pause = found.evidence["pause_ms"]
    assert isinstance(pause, tuple) and pause[0] >= 20 * S
    # Without the layout, overlapping bounding boxes tell the same.
    tl = PvTimeline({k: Ink.of(v) for k, v in ink.items()}, StationContext(frozenset({"P1"})))
    assert "W.504" in codes(check_pv(HONEST, station_id="x", timeline=tl))


def test_foreign_pen_f505() -> None:
    ink = honest_ink()
    ink["valid"] = [replace_pen(s, "Q9") for s in ink["valid"]]
    found = only(check(ink=ink), "F.505")
    assert found.fields == ("valid",)
    assert found.evidence["pen_serials"] == ("Q9", "Q9", "Q9")
    assert "Q9" in found.message


def replace_pen(s: Stroke, pen: str) -> Stroke:
    return Stroke(s.points, pen, s.page)


def test_impossible_timestamps_w506_are_kept_out_of_timing_rules() -> None:
    ink = honest_ink()
    ink["blank"] = [digit("blank", 4, 5 * S)]  # 1970: the pen's clock was reset
    found = check(ink=ink)
    assert codes(found) == ["W.506"]
    assert "1970-01-01" in found[0].message
    future = honest_ink()
    future["blank"] = [digit("blank", 4, CLOSING + 10 * 24 * 60 * MIN)]
    assert codes(check(ink=future)) == ["W.506"]


def test_findings_are_sorted_idempotent_and_ignore_arrival_order() -> None:
    ink = honest_ink()
    ink["ballots"].append(digit("ballots", 1, CLOSING + 120 * MIN, pen="Q9"))
    rng = np.random.default_rng(7)
    shuffled = {k: [v[i] for i in rng.permutation(len(v))] for k, v in reversed(ink.items())}
    counts = replace(HONEST, ballots=501)
    a, b = check(counts, ink), check(counts, shuffled)
    assert a == b == check(counts, ink)
    assert [f.sort_key() for f in a] == sorted(f.sort_key() for f in a)
    assert {"F.203", "F.204", "F.502", "F.505", "W.501"} <= set(codes(a))
    assert sorted_strokes(shuffled["ballots"]) == sorted_strokes(ink["ballots"])


def test_a_finding_code_must_match_its_severity() -> None:
    with pytest.raises(ReconciliationError):
        Finding("W.201", Severity.ERROR, "s", (), "m", "a")


def test_sheet_of_another_station_f508() -> None:
    ink = honest_ink()
    other = PageAddress(PAGE.segment, PAGE.shelf, PAGE.book, PAGE.page + 1)
    ink["ballots"] = [Stroke(s.points, s.pen_serial, other) for s in ink["ballots"]]
    found = only(check(ink=ink, pages=frozenset({PAGE})), "F.508")
    assert found.fields == ("ballots",)
    assert str(other) in found.message
    # Without the list of issued sheets the rule cannot run, and says nothing.
    assert "F.508" not in codes(check(ink=ink))
    assert "F.508" not in codes(check(ink=honest_ink(), pages=frozenset({PAGE})))
