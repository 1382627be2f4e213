"""The scan reader (ocr.scan): registration on the marks, count fields read, bad pages said.

Scans come from hardware_sim.paper (rotated, skewed, blurred, noisy, JPEG);
the tests compare with the Scan's true geometry, which the reader never sees.
The simulator writes with the glyph bank's writers, whom the scan model was
never trained on (ocr.train_scan leaves them out), so reading its PVs is a
held-out-writer test.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from hardware_sim.paper import Scan, Stain, render_page, scan, scan_run
from hardware_sim.scenarios import StationRun, simulate_station
from hardware_sim.stations import pick_stations
from ocr import BadScan, FormNotFound, OcrError, read_scan, register
from ocr.scan import ALTERNATIVE_FLOOR, MAX_ALTERNATIVES
from pen.forms import load_form

PV = load_form("pv")


@cache
def _run(i: int, scenario: str = "honest") -> StationRun:
    station = pick_stations(12, seed=5)[i]
    return simulate_station(station, scenario, seed=700 + i, layout=PV)


def _field_error_px(found: object, s: Scan) -> float:
    """Largest distance (pixels) between where the reader and the truth put the box corners."""
    worst = 0.0
    for b in PV.boxes:
        for x, y in ((b.rect.x, b.rect.y), (b.rect.right, b.rect.bottom)):
            fx, fy = found(x, y)  # type: ignore[operator]
            tx, ty = s.to_pixels(x, y)
            worst = max(worst, float(np.hypot(fx - tx, fy - ty)))
    return worst


@pytest.mark.parametrize(("dpi", "seed"), [(200, 1), (240, 2), (300, 3), (200, 4), (275, 5)])
def test_registration_lands_every_box_within_a_quarter_millimetre(dpi: int, seed: int) -> None:
    s = scan_run(_run(seed % 3), dpi=dpi, seed=seed)
    reg = register(s.image, PV)
    assert not reg.upside_down
    assert _field_error_px(reg.to_pixels, s) <= 0.25 * dpi / 25.4


def test_upside_down_sheet_is_detected_and_registered() -> None:
    s = scan_run(_run(0), dpi=200, seed=9)
    turned = np.ascontiguousarray(s.image[::-1, ::-1])
    h, w = turned.shape
    reg = register(turned, PV)
    assert reg.upside_down

    def truth(x: float, y: float) -> tuple[float, float]:
        px, py = s.to_pixels(x, y)
        return (w - 1 - px, h - 1 - py)

    worst = max(
        float(
            np.hypot(*(np.subtract(reg.to_pixels(b.rect.x, b.rect.y), truth(b.rect.x, b.rect.y))))
        )
        for b in PV.boxes
    )
    assert worst <= 0.25 * 200 / 25.4


def test_counts_of_held_out_writers_read_from_scans() -> None:
    right = total = confident_wrong = 0
    for i in range(8):
        run = _run(i)
        fields = read_scan(scan_run(run, dpi=200 + 12 * i, seed=40 + i).image, PV)
        truth = {k: str(v) for k, v in run.pv_counts("paper").counts() if v is not None}
        assert set(truth) <= set(fields)
        for name, value in truth.items():
            f = fields[name]
            assert 0.0 <= f.reading.confidence <= 1.0
            assert f.crop.ndim == 2 and f.crop.size > 0
            total += 1
            right += f.reading.text == value
            confident_wrong += f.reading.text != value and f.reading.confidence >= 0.9
    assert right / total >= 0.9  # measured about 97% (docs/ocr.md)
    assert confident_wrong <= 1


def test_alternatives_give_every_likely_one_digit_change() -> None:
    """The pen-against-paper rule asks what chance the reader left the pen's value: the
    alternatives list every one-box change of the reading down to ALTERNATIVE_FLOOR."""
    run = _run(1)
    fields = read_scan(scan_run(run, dpi=240, seed=21).image, PV)
    for f in fields.values():
        r = f.reading
        if not r.text:
            continue
        texts = [t for t, _ in r.alternatives]
        probs = [p for _, p in r.alternatives]
        assert texts[0] == r.text and probs[0] == r.confidence
        assert probs == sorted(probs, reverse=True) and len(texts) == len(set(texts))
        assert 1 <= len(texts) <= MAX_ALTERNATIVES
        assert min(probs[1:], default=1.0) >= ALTERNATIVE_FLOOR
        for t in texts[1:]:
            assert len(t) == len(r.text)
            assert sum(a != b for a, b in zip(t, r.text, strict=True)) == 1
        if r.confidence < 0.5 and len(texts) < MAX_ALTERNATIVES:
            assert len(texts) > 1  # an unsure reading names what else it could be


def test_a_paper_alteration_reads_as_the_paper_shows_it() -> None:
    run = _run(3, "paper_alteration")
    field = str(run.details["field"])
    read = read_scan(scan_run(run, dpi=300, seed=11).image, PV)[field].reading
    # The altered value, or (if unsure) anything but a confident reading of the pen's value.
    pen = str(run.details["written_value"])
    assert read.text == str(run.details["paper_value"]) or not (
        read.text == pen and read.confidence >= 0.9
    )


def test_an_empty_form_reads_empty_fields_confidently() -> None:
    s = scan(PV, station_id="75056_0001", dpi=200, seed=3)
    fields = read_scan(s.image, PV)
    assert {f.reading.text for f in fields.values()} == {""}
    assert min(f.reading.confidence for f in fields.values()) == 1.0


def test_blank_page_is_not_a_form() -> None:
    with pytest.raises(FormNotFound) as e:
        read_scan(np.full((2400, 1700), 250, np.uint8), PV)
    assert e.value.code == "OCR.402"


def test_noise_is_not_a_form() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(FormNotFound):
        read_scan(rng.integers(0, 256, (1200, 900), dtype=np.uint8), PV)


def test_a_page_without_marks_is_registered_on_its_printed_form() -> None:
    page = render_page(PV, station_id="75056_0001", dpi=200)
    k = 200 / 25.4
    for m in PV.marks:
        r = m.rect
        page[
            round(r.y * k) - 2 : round(r.bottom * k) + 2,
            round(r.x * k) - 2 : round(r.right * k) + 2,
        ] = 255
    reg = register(page, PV)
    assert reg.method == "features" and not reg.upside_down
    worst = max(
        float(np.hypot(*np.subtract(reg.to_pixels(x, y), (x * k, y * k))))
        for b in PV.boxes
        for x, y in ((b.rect.x, b.rect.y), (b.rect.right, b.rect.bottom))
    )
    assert worst <= 0.25 * k


def _blots(over: str = "marks", seed: int = 0) -> list[Stain]:
    """Ink blots (irregular, 4-5.5 mm) centred on each mark, or beside one (off by 3 mm)."""
    if over == "beside":
        m = PV.marks[3]
        return [Stain(m.cx - 3.0, m.cy - 2.0, 4.5, seed=seed)]
    rng = np.random.default_rng(seed)
    return [
        Stain(m.cx + rng.uniform(-1, 1), m.cy + rng.uniform(-1, 1), rng.uniform(4, 5.5), seed=i)
        for i, m in enumerate(PV.marks)
    ]


@pytest.mark.parametrize(
    ("dpi", "seed", "turned"), [(200, 1, False), (300, 2, False), (240, 3, True)]
)
def test_blotted_marks_fall_back_to_the_printed_form(dpi: int, seed: int, turned: bool) -> None:
    run = _run(seed)
    s = scan_run(run, dpi=dpi, seed=seed, stains=_blots(seed=seed))
    image = np.ascontiguousarray(s.image[::-1, ::-1]) if turned else s.image
    h, w = image.shape
    reg = register(image, PV)
    assert reg.method == "features" and reg.upside_down == turned

    def truth(x: float, y: float) -> tuple[float, float]:
        px, py = s.to_pixels(x, y)
        return (w - 1 - px, h - 1 - py) if turned else (px, py)

    worst = max(
        float(np.hypot(*np.subtract(reg.to_pixels(x, y), truth(x, y))))
        for b in PV.boxes
        for x, y in ((b.rect.x, b.rect.y), (b.rect.right, b.rect.bottom))
    )
    assert worst <= 0.25 * dpi / 25.4
    # and the counts read from it are those read from the same sheet without blots
    blotted = read_scan(image, PV)
    clean = read_scan(scan_run(run, dpi=dpi, seed=seed).image, PV)
    same = [blotted[k].reading.text == clean[k].reading.text for k in clean]
    assert np.mean(same) >= 0.9


def test_a_blot_beside_a_mark_is_not_taken_for_the_mark() -> None:
    # A blot merged with a mark is a larger, off-centre "mark": trusted, it would
    # misplace the boxes by most of a millimetre without a word.
    s = scan_run(_run(0), dpi=200, seed=3, stains=_blots("beside", seed=4))
    reg = register(s.image, PV)
    assert reg.method == "features"
    assert _field_error_px(reg.to_pixels, s) <= 0.25 * 200 / 25.4


def test_a_scan_with_its_marks_registers_on_them() -> None:
    assert register(scan_run(_run(1), dpi=200, seed=6).image, PV).method == "marks"


def test_another_form_is_not_read_as_a_pv() -> None:
    contact = load_form("contact")
    s = scan(contact, dpi=200, seed=2)
    with pytest.raises(FormNotFound):
        read_scan(s.image, PV)


@pytest.mark.parametrize(
    "bad", [np.zeros(10), np.zeros((10, 10)), "a scan", np.full((200, 200), np.nan)]
)
def test_what_is_not_an_image_is_a_typed_error(bad: object) -> None:
    with pytest.raises(BadScan) as e:
        read_scan(bad, PV)
    assert isinstance(e.value, OcrError) and e.value.code == "OCR.401"
