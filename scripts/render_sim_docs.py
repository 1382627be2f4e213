"""Render the simulator's images in docs/sim/.

- ``pv-scan-honest.png``, ``pv-scan-altered.png``: two simulated scans of the
  same station's PV: honest, and with a paper-only alteration (a 1 turned
  into a 7 after the pen captured the minutes).
- ``contact-ink.png``: a contact form of a simulated day as the pen captured
  it (``render_pdf(ink=...)``, rasterised with poppler's ``pdftoppm``).
- ``contact-scan.png``: the same sheet as the scanner returns the paper.

Scans are made at 200 dpi with defects, then reduced to 120 dpi and 16 gray
levels so the committed PNGs stay small.

Usage: python scripts/render_sim_docs.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from hardware_sim.day import simulate_day
from hardware_sim.paper import scan, scan_run
from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import load_stations
from pen.forms import load_form, render_pdf

ROOT = Path(__file__).resolve().parent.parent
STATION, SEED = "34028-0004", 4
INK_DPI = 90


def _small(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    return (np.round(small / 255 * 15) * (255 / 15)).astype(np.uint8)


def contact_images(out: Path) -> None:
    """A contact form of a simulated day: the pen's ink, and the scanned paper."""
    station = next(s for s in load_stations() if s.id == STATION)
    contact = simulate_day(station, seed=SEED).contacts[0]
    layout = load_form("contact")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "contact.pdf"
        pdf.write_bytes(render_pdf(layout, ink=contact.ink))
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                str(INK_DPI),
                "-singlefile",
                str(pdf),
                str(out / "contact-ink"),
            ],
            check=True,
        )
        ink_png = out / "contact-ink.png"
        gray = cv2.imread(str(ink_png), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(ink_png), gray, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    image = scan(layout, ink=contact.ink, dpi=200, seed=SEED).image
    cv2.imwrite(str(out / "contact-scan.png"), _small(image), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    for name in ("contact-ink.png", "contact-scan.png"):
        path = out / name
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB {contact.values()}")


def main() -> int:
    station = next(s for s in load_stations() if s.id == STATION)
    out = ROOT / "docs" / "sim"
    out.mkdir(parents=True, exist_ok=True)
    for name, scenario in (("honest", "honest"), ("altered", "paper_alteration")):
        run = simulate_station(station, scenario, SEED)
        image = scan_run(run, dpi=200, seed=SEED).image
        small = _small(image)
        path = out / f"pv-scan-{name}.png"
        cv2.imwrite(str(path), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB {dict(run.details)}")
    contact_images(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
