"""The station id printed on a scanned PV (ocr.read_page): QR code, printed text, problems.

Scans come from hardware_sim.paper, whose sheets carry a real QR code of the
station id (segno) and the line "Bureau <id>"; blots are painted on the
sheet before it is scanned. Tesseract is the real binary.
"""

from __future__ import annotations

import shutil
from functools import cache

import numpy as np
import pytest

from hardware_sim.paper import Stain, scan_run
from hardware_sim.scenarios import StationRun, simulate_station
from hardware_sim.stations import pick_stations
from ocr import (
    OcrError,
    ScanError,
    StationIdMismatch,
    StationIdUnreadable,
    read_page,
    read_scan,
)
from pen.forms import load_form

PV = load_form("pv")
TESSERACT = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")
QR = PV.station.qr if PV.station else None


@cache
def _run(i: int, scenario: str = "honest") -> StationRun:
    station = pick_stations(10, seed=11)[i]
    return simulate_station(station, scenario, seed=300 + i, layout=PV)


def _qr_blot(seed: int, radius: float = 5.0) -> Stain:
    """An ink blot over the middle of the QR code (more than level M corrects)."""
    assert QR is not None
    return Stain(QR.x + QR.width / 2, QR.y + QR.height / 2, radius, seed=seed)


def _text_whiteout() -> Stain:
    """Correction fluid over the printed ``Bureau <id>`` line."""
    assert PV.station is not None
    return Stain(PV.station.text_x + 15.0, PV.station.text_y - 1.0, 13.0, gray=255, seed=1)


@pytest.mark.parametrize(("i", "dpi"), [(0, 200), (1, 240), (2, 300)])
def test_the_qr_code_gives_the_station_id(i: int, dpi: int) -> None:
    run = _run(i)
    page = read_page(scan_run(run, dpi=dpi, seed=i).image, PV, expected_station=run.station.id)
    sid = page.station_id
    assert (sid.text, sid.method, sid.problem) == (run.printed_station_id, "qr", None)
    assert sid.agrees is True and sid.confidence >= 0.99
    assert page.registration.method == "marks"


def test_the_fields_are_those_read_scan_reads() -> None:
    image = scan_run(_run(3), dpi=220, seed=4).image
    page = read_page(image, PV)
    plain = read_scan(image, PV)
    assert {k: f.reading for k, f in page.fields.items()} == {
        k: f.reading for k, f in plain.items()
    }
    assert page.station_id.expected is None and page.station_id.agrees is None


def test_an_upside_down_sheet_still_gives_its_id() -> None:
    run = _run(4)
    image = np.ascontiguousarray(scan_run(run, dpi=200, seed=8).image[::-1, ::-1])
    page = read_page(image, PV)
    assert page.registration.upside_down
    assert (page.station_id.text, page.station_id.method) == (run.printed_station_id, "qr")


def test_a_sheet_of_another_station_is_a_typed_mismatch() -> None:
    run = _run(5, "swapped_pages")
    assert run.printed_station_id != run.station.id
    page = read_page(scan_run(run, dpi=200, seed=2).image, PV, expected_station=run.station.id)
    sid = page.station_id
    assert sid.text == run.printed_station_id and sid.agrees is False
    assert isinstance(sid.problem, StationIdMismatch) and isinstance(sid.problem, ScanError)
    assert sid.problem.code == "OCR.404" and run.station.id in str(sid.problem)
    assert (sid.problem.read, sid.problem.expected) == (run.printed_station_id, run.station.id)
    assert page.fields  # the counts are still read: the problem is returned, not raised


@TESSERACT
@pytest.mark.parametrize(("i", "dpi"), [(6, 200), (7, 260)])
def test_a_blotted_qr_code_falls_back_to_the_printed_text(i: int, dpi: int) -> None:
    run = _run(i)
    s = scan_run(run, dpi=dpi, seed=i, stains=[_qr_blot(i)])
    page = read_page(s.image, PV, expected_station=run.station.id)
    sid = page.station_id
    assert (sid.text, sid.method, sid.problem) == (run.printed_station_id, "text", None)
    assert 0.5 <= sid.confidence < 0.999


def test_no_readable_id_is_a_typed_problem_and_the_fields_are_kept() -> None:
    run = _run(8)
    s = scan_run(run, dpi=200, seed=5, stains=[_qr_blot(3, 6.0), _text_whiteout()])
    for fallback in (True, False):
        page = read_page(s.image, PV, expected_station=run.station.id, text_fallback=fallback)
        sid = page.station_id
        assert (sid.text, sid.method, sid.confidence, sid.agrees) == ("", "none", 0.0, None)
        assert isinstance(sid.problem, StationIdUnreadable)
        assert isinstance(sid.problem, OcrError) and sid.problem.code == "OCR.403"
        assert "by hand" in str(sid.problem)
        assert page.fields


def test_without_the_text_fallback_a_blotted_qr_code_is_unreadable() -> None:
    run = _run(6)
    s = scan_run(run, dpi=200, seed=6, stains=[_qr_blot(6)])
    sid = read_page(s.image, PV, text_fallback=False).station_id
    assert sid.method == "none" and isinstance(sid.problem, StationIdUnreadable)
