"""Results reports: golden HTML pages from a fixed seed, and a deterministic PDF.

The golden files are the reports of :func:`_sample`; after an intended change
to the reports, regenerate them with

    PLUME_REGEN_GOLDEN=1 pytest tests/unit/test_reports.py -k golden

and review the diff (open the pages in a browser: they need no network).
"""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import datetime
from pathlib import Path

import pytest

from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import load_stations
from pen.forms import load_form
from reconciliation import Finding, PaperReading, StationTally, check_across, check_pv
from reconciliation.cdf import CANDIDATES_2011
from reconciliation.report_html import departement_html, national_html
from reconciliation.report_pdf import area_pdf
from reconciliation.report_station import station_html
from reconciliation.summary import summarise
from tests.tallies import honest_tallies, stuffed

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
WHEN = datetime(2011, 10, 9, 22, 0, 0)
TITLE = "Primaire citoyenne 2011 — premier tour"


def _sample() -> tuple[list[StationTally], list[Finding]]:
    """Two départements, seed 21, with an arithmetic slip and a heavily stuffed station in 75."""
    tallies = honest_tallies(21, ("01", "75"))
    i = next(i for i, t in enumerate(tallies) if t.departement == "75")
    slip = tallies[i]
    tallies[i] = dataclasses.replace(
        slip, counts=dataclasses.replace(slip.counts, valid=(slip.counts.valid or 0) - 7)
    )
    tallies[i + 1] = stuffed(tallies[i + 1], 2, int(0.3 * (tallies[i + 1].registered or 0)))
    findings = check_across(tallies)
    for t in tallies:
        findings += check_pv(t.counts, station_id=t.station_id)
    return tallies, sorted(findings, key=Finding.sort_key)


def _pages() -> dict[str, str]:
    tallies, findings = _sample()
    common = {"generated_at": WHEN, "status": "unofficial-partial"}
    return {
        "report_national.html": national_html(
            TITLE,
            CANDIDATES_2011,
            tallies,
            findings,
            expected_stations={"01": 43, "75": 94},
            **common,
        ),
        "report_departement_75.html": departement_html(
            TITLE, CANDIDATES_2011, tallies, findings, "75", expected_stations=94, **common
        ),
    }


def _station_page() -> str:
    """A simulated station whose count was written after closing and whose paper was altered."""
    layout = load_form("pv")
    station = next(s for s in load_stations() if s.id == "75056-0013")
    run = simulate_station(station, "after_closing", seed=2, layout=layout)
    counts = run.pv_counts("written")
    paper = {name: PaperReading(str(v), 0.97) for name, v in counts.counts() if v is not None}
    paper["ballots"] = PaperReading(str((counts.ballots or 0) + 10), 0.95, "crops/ballots.png")
    timeline = run.timeline(layout)
    findings = check_pv(counts, station_id=station.id, timeline=timeline, paper=paper)
    crop = {"ballots": "data:image/png;base64,iVBORw0KGgo="}
    return station_html(
        TITLE,
        station.id,
        counts,
        findings,
        generated_at=WHEN,
        status="unofficial-partial",
        timeline=timeline,
        paper=paper,
        crops=crop,
    )


@pytest.mark.parametrize(
    "name", ["report_national.html", "report_departement_75.html", "report_station.html"]
)
def test_golden_report(name: str) -> None:
    text = _station_page() if name == "report_station.html" else _pages()[name]
    if os.environ.get("PLUME_REGEN_GOLDEN"):
        (GOLDEN / name).write_text(text, encoding="utf-8")
    assert text == (GOLDEN / name).read_text(encoding="utf-8")


def test_report_shows_the_findings_and_needs_no_network() -> None:
    _, findings = _sample()
    page = _pages()["report_departement_75.html"]
    assert {"F.202", "F.203", "W.601"} <= {f.code for f in findings}
    for f in findings:
        if f.station_id.startswith("75") or f.station_id == "departement:75":
            assert f.code in page
    assert not re.search(r"<script|\bsrc=|\bhref=|@import|url\(", page)
    assert "of 94" in page


def test_report_escapes_text() -> None:
    tallies, _ = _sample()
    page = national_html(
        "<b>x</b>", ("A & <B>",), tallies[:3], [], generated_at=WHEN, status="certified"
    )
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "A &amp; &lt;B&gt;" in page


def test_station_page_shows_late_ink_and_the_paper() -> None:
    text = _station_page()
    assert "F.503" in text and "F.301" in text and "the paper says" in text
    assert 'stroke="#b00020"' in text and 'src="data:image/png;base64,' in text


def test_pdf_is_deterministic_and_carries_the_findings() -> None:
    tallies, findings = _sample()
    summary = summarise(tallies, findings, "75", 94)
    a = area_pdf(TITLE, CANDIDATES_2011, summary, generated_at=WHEN, status="certified")
    b = area_pdf(TITLE, CANDIDATES_2011, summary, generated_at=WHEN, status="certified")
    assert a == b and a.startswith(b"%PDF")
    assert b"F.202" in a and b"W.601" in a
