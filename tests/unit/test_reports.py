"""Results reports: golden HTML pages from a fixed seed, and a deterministic PDF.

The golden files are the reports of :func:`tests.report_pages.sample`; after an intended change
to the reports, regenerate them with

    PLUME_REGEN_GOLDEN=1 pytest tests/unit/test_reports.py -k golden

and review the diff (open the pages in a browser: they need no network).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from reconciliation.cdf import CANDIDATES_2011
from reconciliation.report_html import national_html
from reconciliation.report_pdf import area_pdf
from reconciliation.summary import summarise
from tests.report_pages import TITLE, WHEN, area_pages, sample, station_page

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize(
    "name", ["report_national.html", "report_departement_75.html", "report_station.html"]
)
def test_golden_report(name: str) -> None:
    text = station_page() if name == "report_station.html" else area_pages()[name]
    if os.environ.get("PLUME_REGEN_GOLDEN"):
        (GOLDEN / name).write_text(text, encoding="utf-8")
    assert text == (GOLDEN / name).read_text(encoding="utf-8")


def test_report_shows_the_findings_and_needs_no_network() -> None:
    _, findings = sample()
    page = area_pages()["report_departement_75.html"]
    assert {"F.202", "F.203", "W.601"} <= {f.code for f in findings}
    for f in findings:
        if f.station_id.startswith("75") or f.station_id == "departement:75":
            assert f.code in page
    assert not re.search(r"<script|\bsrc=|\bhref=|@import|url\(", page)
    assert "of 94" in page


def test_report_escapes_text() -> None:
    tallies, _ = sample()
    page = national_html(
        "<b>x</b>", ("A & <B>",), tallies[:3], [], generated_at=WHEN, status="certified"
    )
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "A &amp; &lt;B&gt;" in page


def test_station_page_shows_late_ink_and_the_paper() -> None:
    text = station_page()
    assert "F.503" in text and "F.301" in text and "the paper says" in text
    assert 'stroke="#b00020"' in text and 'src="data:image/png;base64,' in text


def test_pdf_is_deterministic_and_carries_the_findings() -> None:
    tallies, findings = sample()
    summary = summarise(tallies, findings, "75", 94)
    a = area_pdf(TITLE, CANDIDATES_2011, summary, generated_at=WHEN, status="certified")
    b = area_pdf(TITLE, CANDIDATES_2011, summary, generated_at=WHEN, status="certified")
    assert a == b and a.startswith(b"%PDF")
    assert b"F.202" in a and b"W.601" in a
