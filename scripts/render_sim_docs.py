"""Render docs/sim/pv-scan-honest.png and docs/sim/pv-scan-altered.png.

Two simulated scans of the same station's PV: honest, and with a paper-only
alteration (a 1 turned into a 7 after the pen captured the minutes). Scanned
at 200 dpi with defects, then reduced to 120 dpi and 16 gray levels so the
committed PNGs stay small.

Usage: python scripts/render_sim_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from hardware_sim.paper import scan_run
from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import load_stations

ROOT = Path(__file__).resolve().parent.parent
STATION, SEED = "34028-0004", 4


def main() -> int:
    station = next(s for s in load_stations() if s.id == STATION)
    out = ROOT / "docs" / "sim"
    out.mkdir(parents=True, exist_ok=True)
    for name, scenario in (("honest", "honest"), ("altered", "paper_alteration")):
        run = simulate_station(station, scenario, SEED)
        image = scan_run(run, dpi=200, seed=SEED).image
        small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
        small = (np.round(small / 255 * 15) * (255 / 15)).astype(np.uint8)
        path = out / f"pv-scan-{name}.png"
        cv2.imwrite(str(path), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB {dict(run.details)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
