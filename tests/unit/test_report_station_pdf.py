"""The station report as PDF: deterministic, with each value, its ink, the paper crop, findings."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from PIL import Image

from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import load_stations
from pen.forms import load_form
from reconciliation import PaperReading, PvCounts, ReconciliationError, check_pv
from reconciliation.report_station_pdf import station_pdf

WHEN = datetime(2011, 10, 9, 22, 0, 0)
LATE_RED = b".690196 0 .12549 RG"
INK_BLUE = b".066667 .133333 .2 RG"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 40), 200).save(out, "PNG")
    return out.getvalue()


def _station(*, ink: bool = True, crop: bool = True) -> tuple[PvCounts, bytes]:
    """Station 75056-0013, a count written after closing, the paper's ballots altered (+10)."""
    layout = load_form("pv")
    station = next(s for s in load_stations() if s.id == "75056-0013")
    run = simulate_station(station, "after_closing", seed=2, layout=layout)
    counts = run.pv_counts("written")
    paper = {name: PaperReading(str(v), 0.97) for name, v in counts.counts() if v is not None}
    paper["ballots"] = PaperReading(str((counts.ballots or 0) + 10), 0.95, "crops/ballots.png")
    timeline = run.timeline(layout) if ink else None
    findings = check_pv(counts, station_id=station.id, timeline=timeline, paper=paper)
    pdf = station_pdf(
        "Primaire citoyenne 2011",
        station.id,
        counts,
        findings,
        generated_at=WHEN,
        status="unofficial-partial",
        timeline=timeline,
        paper=paper,
        crops={"ballots": _png()} if crop else None,
    )
    return counts, pdf


def test_station_pdf_is_deterministic_and_carries_values_ink_crop_and_findings() -> None:
    counts, pdf = _station()
    assert pdf == _station()[1] and pdf.startswith(b"%PDF")
    shown = re.findall(rb"\(([^)]*)\) Tj", pdf)
    for name, value in counts.counts():  # each value as the pen wrote it, in its row
        assert str(value).encode() in shown, name
    assert b"75056-0013" in pdf and b"unofficial-partial" in pdf
    for code in (b"F.301", b"F.503"):  # the paper altered, the count written after closing
        assert code in shown
    assert str((counts.ballots or 0) + 10).encode() + b" \\(95%\\)" in pdf  # the paper reading
    assert pdf.count(b"/Subtype /Image") == 1  # the ballots crop
    assert LATE_RED in pdf and INK_BLUE in pdf  # late ink stands out from the rest


def test_without_ink_or_crop_nothing_is_drawn_but_values_and_findings_stay() -> None:
    _, pdf = _station(ink=False, crop=False)
    assert b"/Subtype /Image" not in pdf
    assert LATE_RED not in pdf and INK_BLUE not in pdf
    assert b"(F.301) Tj" in pdf


def test_a_crop_that_is_not_an_image_is_refused_with_the_field_named() -> None:
    counts = PvCounts(10, 10, 0, 0, 10, (10,), 10, "1900")
    with pytest.raises(ReconciliationError, match="paper crop of ballots"):
        station_pdf(
            "T",
            "75056-0013",
            counts,
            [],
            generated_at=WHEN,
            status="certified",
            paper={"ballots": PaperReading("10", 1.0, "x.png")},
            crops={"ballots": b"\x89PNG not really"},
        )
