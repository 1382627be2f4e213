"""The pen's own ink read by the scan reader (ocr.paper_ink): as the paper reads, unless
the paper was changed."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_sim.paper import scan_run
from hardware_sim.scenarios import StationRun, simulate_station
from hardware_sim.stations import pick_stations
from ocr import read_pen_ink, read_scan
from ocr.errors import BadInk
from ocr.paper_ink import draw_field
from pen.forms import assign, load_form

PV = load_form("pv")
COUNTS = [f for f in PV.fields if f.kind == "count"]


def _pen_ink(run: StationRun) -> dict[str, str]:
    fields = assign(run.ink, PV).fields
    return {
        f.id: read_pen_ink([s.points for s in fields[f.id]], [b.rect for b in f.boxes]).text
        for f in COUNTS
        if f.id in fields
    }


def test_an_empty_field_draws_its_boxes_and_reads_empty() -> None:
    boxes = [b.rect for b in COUNTS[0].boxes]
    page, local = draw_field([], boxes)
    assert page.min() > 100 and page.max() == 255  # pale boxes, no ink
    assert local[0].x == 1.0 and local[0].width == boxes[0].width
    assert read_pen_ink([], boxes).text == ""


def test_the_pen_ink_of_honest_stations_reads_as_written_and_as_the_paper() -> None:
    right = same = total = 0
    for i, station in enumerate(pick_stations(4, seed=31)):
        run = simulate_station(station, "honest", seed=3_100 + i, layout=PV)
        ink = _pen_ink(run)
        paper = read_scan(scan_run(run, dpi=250, seed=i).image, PV)
        for name, value in run.pv_counts("written").counts():
            if value is None:
                continue
            total += 1
            right += ink[name] == str(value)
            same += ink[name] == paper[name].reading.text
    assert right / total >= 0.9 and same / total >= 0.9  # measured about 97% and 98%


def test_an_altered_paper_reads_otherwise_than_the_pen_ink() -> None:
    for i, station in enumerate(pick_stations(6, seed=32)):
        run = simulate_station(station, "paper_alteration", seed=3_200 + i, layout=PV)
        if run.details["kind"] != "digit added":
            continue
        field = str(run.details["field"])
        ink = _pen_ink(run)[field]
        paper = read_scan(scan_run(run, dpi=250, seed=i).image, PV)[field].reading.text
        assert len(paper) == len(ink) + 1 and paper != ink  # the added digit shows on paper only
        return
    raise AssertionError("no 'digit added' alteration among the stations drawn")


def test_ink_outside_the_boxes_is_not_read_and_malformed_ink_is_refused() -> None:
    boxes = [b.rect for b in COUNTS[0].boxes]
    far = np.array([[0.0, 0.0], [5.0, 5.0]])
    assert read_pen_ink([far, np.zeros((0, 2))], boxes).text == ""
    for bad in (np.zeros(3), [["a", "b"]], np.array([[np.nan, 1.0]])):
        with pytest.raises(BadInk):
            read_pen_ink([bad], boxes)
