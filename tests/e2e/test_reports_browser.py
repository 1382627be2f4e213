"""The HTML reports in a real browser: headless Chromium (Debian's) driven by Playwright.

The high authority opens these pages offline, on election night, on whatever
laptop is at hand. In a real browser they must draw what the golden files only
spell: the fingerprint heat map with one cell per occupied bin, the candidates'
bars, each finding's evidence behind a click, a station's late ink in red; and
they must ask the network for nothing (every request the page makes is
recorded; a control page with one remote image proves the recording works).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from reconciliation.summary import summarise
from tests.report_pages import area_pages, sample, station_page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (scripts/setup.sh installs it)"
)
# Quiet, offline Chromium: no background requests of its own, so any request is the page's.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    texts = {**area_pages(), "report_station.html": station_page()}
    texts["control.html"] = '<!DOCTYPE html><img src="http://192.0.2.1/pixel.png" alt="x">'
    out = {}
    for name, text in texts.items():
        out[name] = folder / name
        out[name].write_text(text, encoding="utf-8")
    return out


class Visit:
    """One page opened in a fresh tab, with every request and console error it caused."""

    def __init__(self, browser: object, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(path.as_uri(), wait_until="load")

    def remote(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:"))]


def test_the_recording_sees_a_remote_request(browser: object, pages: dict[str, Path]) -> None:
    visit = Visit(browser, pages["control.html"])
    assert visit.remote() == ["http://192.0.2.1/pixel.png"]
    visit.page.close()


@pytest.mark.parametrize(
    "name", ["report_national.html", "report_departement_75.html", "report_station.html"]
)
def test_reports_ask_the_network_for_nothing(
    browser: object, pages: dict[str, Path], name: str
) -> None:
    visit = Visit(browser, pages[name])
    assert visit.page.title().startswith("Primaire citoyenne 2011")
    assert visit.remote() == [] and visit.errors == []
    visit.page.close()


def test_national_fingerprint_is_drawn_cell_by_cell(
    browser: object, pages: dict[str, Path]
) -> None:
    tallies, findings = sample()
    fp = summarise(tallies, findings, None, None).fingerprint
    occupied = sum(1 for row in fp.counts for c in row if c)
    visit = Visit(browser, pages["report_national.html"])
    svg = visit.page.locator('svg[aria-label^="Election fingerprint"]')
    box = svg.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    cells = svg.locator('rect[fill="#08306b"]')
    assert cells.count() == occupied > 0
    # The heat map is on screen: the plot's pixels hold that many dark blue cells' worth.
    png = np.frombuffer(svg.screenshot(), np.uint8)
    image = cv2.imdecode(png, cv2.IMREAD_COLOR)
    b, g, r = (image[..., i].astype(int) for i in range(3))
    blue = (b - r > 40) & (b - g > 15)
    cell_px = 16 * 16
    assert blue.sum() >= occupied * cell_px * 0.5
    # One bar per candidate, with a visible width for anyone with votes.
    bars = visit.page.locator('svg[aria-label="Share of valid votes by candidate"] rect')
    widths = [bars.nth(i).bounding_box()["width"] for i in range(bars.count())]  # type: ignore[index]
    assert len(widths) == 6 and all(w > 0 for w in widths)
    visit.page.close()


def test_evidence_opens_on_a_click(browser: object, pages: dict[str, Path]) -> None:
    visit = Visit(browser, pages["report_departement_75.html"])
    item = visit.page.locator("li", has_text="F.202").first
    evidence = item.locator("details dl")
    assert not evidence.is_visible()
    item.locator("summary").click()
    assert evidence.is_visible() and "next" in evidence.inner_text()
    visit.page.close()


def test_station_page_shows_late_ink_in_red(browser: object, pages: dict[str, Path]) -> None:
    visit = Visit(browser, pages["report_station.html"])
    ink = visit.page.locator('svg[aria-label="pen ink"]')
    assert ink.count() >= 10
    late = visit.page.locator('svg[aria-label="pen ink"] [stroke="#b00020"]')
    assert late.count() > 0
    # The red strokes are drawn: the late field's picture has red pixels, an honest one none.
    late_svg = late.first.locator("xpath=ancestor::*[local-name()='svg'][1]")
    honest_svg = visit.page.locator('svg[aria-label="pen ink"]:not(:has([stroke="#b00020"]))').first

    def red_pixels(locator: object) -> int:
        img = cv2.imdecode(np.frombuffer(locator.screenshot(), np.uint8), cv2.IMREAD_COLOR)  # type: ignore[attr-defined]
        b, g, r = (img[..., i].astype(int) for i in range(3))
        return int(((r - g > 60) & (r - b > 40)).sum())

    assert red_pixels(late_svg) > 20 and red_pixels(honest_svg) == 0
    text = visit.page.inner_text("body")
    assert re.search(r"F\.503", text) and "the paper says" in text
    visit.page.close()
