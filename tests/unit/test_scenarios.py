"""Each simulated scenario leaves its effect in the ink, the counts or the scan."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_sim.glyphs import GlyphBank
from hardware_sim.paper import scan, scan_run
from hardware_sim.scenarios import SCENARIOS, StationRun, UnknownScenario, simulate_station
from hardware_sim.stations import NATIONAL_SHARES, load_stations, pick_stations
from pen.forms import assign, load_form
from pen.ink import Ink
from reconciliation import Severity, check_pv

LAYOUT = load_form("pv")
BANK = GlyphBank.load()
STATIONS = pick_stations(4, seed=7)


def run(scenario: str, i: int = 0, seed: int = 1) -> StationRun:
    return simulate_station(STATIONS[i], scenario, seed, layout=LAYOUT, bank=BANK)


def field_ink(r: StationRun, fid: str, paper: bool = False) -> Ink:
    return assign(r.paper_ink if paper else r.ink, LAYOUT).fields[fid]


def test_station_sample_is_realistic() -> None:
    stations = load_stations()
    assert 1000 <= len(stations) <= 20000
    assert all(s.id.startswith(s.insee + "-") and len(s.id) == 10 for s in stations)
    assert 300 < np.median([s.electorate for s in stations]) < 1200
    shares = np.array([s.shares() for s in stations[:300]])
    assert np.allclose(
        shares.mean(axis=0), np.array(NATIONAL_SHARES) / sum(NATIONAL_SHARES), atol=0.03
    )
    assert shares[:, 2].std() > 0.01  # shares vary between stations


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(UnknownScenario):
        run("bribery")


@pytest.mark.parametrize("i", range(len(STATIONS)))
def test_honest_pv_has_no_error_finding(i: int) -> None:
    r = run("honest", i)
    assert r.written_counts == r.true_counts == r.paper_counts and r.ink == r.paper_ink
    findings = check_pv(r.pv_counts(), station_id=r.station.id, timeline=r.timeline(LAYOUT))
    assert not [f for f in findings if f.severity == Severity.ERROR]
    assert {s.page for s in r.ink} == {r.station.pv_page}
    assert all(r.closing_ms < s.start_ms < r.closing_ms + 2 * 3_600_000 for s in r.ink)


def test_simulation_is_deterministic() -> None:
    a, b = run("pen_correction"), run("pen_correction")
    assert a.ink == b.ink and a.uploads == b.uploads and a.details == b.details


def test_pen_correction_rewrites_over_earlier_ink_minutes_later() -> None:
    r = run("pen_correction")
    fid = str(r.details["field"])
    strokes = sorted(field_ink(r, fid), key=lambda s: s.start_ms)
    starts = np.array([s.start_ms for s in strokes])
    gap = int(np.argmax(np.diff(starts))) + 1
    assert starts[gap] - starts[gap - 1] >= 2 * 60_000  # minutes later
    first, later = strokes[:gap], strokes[gap:]
    fx0 = min(s.bbox()[0] for s in first)
    fx1 = max(s.bbox()[2] for s in first)
    assert any(s.bbox()[0] < fx1 and s.bbox()[2] > fx0 for s in later)  # over the first ink
    assert r.details["first_value"] != r.details["written_value"]
    findings = check_pv(r.pv_counts(), station_id=r.station.id, timeline=r.timeline(LAYOUT))
    assert "W.504" in {f.code for f in findings}


def test_paper_alteration_is_on_paper_only() -> None:
    for seed in range(1, 7):
        r = run("paper_alteration", seed % len(STATIONS), seed)
        fid = str(r.details["field"])
        assert r.paper_counts != r.written_counts == r.true_counts
        pen = field_ink(r, fid)
        paper = field_ink(r, fid, paper=True)
        added = [s for s in paper if s not in list(pen)]
        assert added and all(s.pen_serial == "" for s in added)
        assert all(s.pen_serial in r.pen_serials for s in r.ink)
        assert str(r.details["paper_value"]) != str(r.details["written_value"])


def test_paper_alteration_visible_in_scan_but_not_in_pen_render() -> None:
    r = run("paper_alteration", 1, 3)
    fid = str(r.details["field"])
    rect = LAYOUT.field(fid).rect
    paper = scan_run(r, seed=2)
    pen_only = scan(LAYOUT, station_id=r.printed_station_id, ink=r.ink, seed=2)
    corners = [paper.to_pixels(x, y) for x in (rect.x, rect.right) for y in (rect.y, rect.bottom)]
    xs, ys = zip(*corners, strict=True)
    win = np.s_[int(min(ys)) : int(max(ys)), int(min(xs)) : int(max(xs))]
    dark_paper = int((paper.image[win] < 110).sum())
    dark_pen = int((pen_only.image[win] < 110).sum())
    assert dark_paper > dark_pen + 20


def test_arithmetic_error_breaks_the_sums() -> None:
    c = run("arithmetic_error").written_counts
    assert c.blank + c.spoiled + c.valid != c.ballots and sum(c.candidates) != c.valid


def test_ballot_stuffing_puts_ballots_above_signatures() -> None:
    r = run("ballot_stuffing")
    c = r.written_counts
    assert c.ballots > c.signatures and c.ballots - c.signatures == r.details["extra_ballots"]
    assert c.blank + c.spoiled + c.valid == c.ballots and sum(c.candidates) == c.valid


def test_after_closing_ink_is_hours_after_closing() -> None:
    r = run("after_closing")
    late = [
        s
        for s in field_ink(r, str(r.details["field"]))
        if s.start_ms > r.closing_ms + 3 * 3_600_000
    ]
    assert late and all(s.start_ms > r.signed_ms for s in late)


def test_wrong_pen_leaves_a_foreign_serial() -> None:
    r = run("wrong_pen")
    foreign = {s.pen_serial for s in r.ink} - set(r.pen_serials)
    assert foreign == {r.details["foreign_serial"]}
    assert {s.pen_serial for s in field_ink(r, str(r.details["field"]))} == foreign
    assert len(r.uploads) == 3  # one batch per pen


def test_swapped_pages_write_on_another_station_sheet() -> None:
    r = run("swapped_pages")
    assert r.printed_station_id != r.station.id and r.page != r.station.pv_page
    assert {s.page for s in r.ink} == {r.page}


def test_duplicate_upload_repeats_the_bytes() -> None:
    r = run("duplicate_upload")
    assert r.duplicate_upload and len(r.uploads) == len(set(r.uploads)) + 1
    assert not run("honest").duplicate_upload


def test_every_scenario_runs_and_is_labelled() -> None:
    assert {run(s).scenario for s in SCENARIOS} == set(SCENARIOS)


def test_scan_marks_land_where_the_homography_says() -> None:
    r = run("honest")
    s = scan_run(r, seed=5)
    assert abs(s.rotation_deg) <= 3.0
    h, w = s.image.shape
    assert (w, h) > (1600, 2300)  # 200 dpi A4 and the scanner bed
    assert 100_000 < len(s.jpeg) < 2_000_000 and s.jpeg[:2] == b"\xff\xd8"
    for m in LAYOUT.marks:
        x, y = s.to_pixels(m.cx, m.cy)
        assert s.image[int(y) - 4 : int(y) + 5, int(x) - 4 : int(x) + 5].mean() < 90
        # 6 mm away from the mark's centre (outside it) the paper is light.
        x2, y2 = s.to_pixels(m.cx + 6, m.cy + 6)
        assert s.image[int(y2) - 3 : int(y2) + 4, int(x2) - 3 : int(x2) + 4].mean() > 150


def test_scan_is_deterministic_for_a_seed() -> None:
    r = run("honest")
    a, b, c = scan_run(r, seed=9), scan_run(r, seed=9), scan_run(r, seed=10)
    assert a.jpeg == b.jpeg and np.array_equal(a.homography, b.homography)
    assert a.jpeg != c.jpeg


def test_swapped_pages_are_caught_by_reconciliation() -> None:
    r = run("swapped_pages")
    findings = check_pv(r.pv_counts("written"), station_id=r.station.id, timeline=r.timeline())
    assert "F.508" in {f.code for f in findings}
