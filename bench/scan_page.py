"""Whole scanned PV sheets under damage: registration and the printed station id.

For each condition, ``--pages`` stations of hardware_sim's sample are
simulated (an honest PV, or the sheet of another station under
``swapped``), printed with their station id (a real QR code and the line
``Bureau <id>``), damaged as the condition says, scanned by
``hardware_sim.paper.scan_run`` (200-300 dpi unless said, rotated, skewed,
blurred, noisy, JPEG, seeded) and read by ``ocr.read_page`` with the
station the sheet should belong to. Reported per condition: pages
registered and how (marks, features), the worst box-corner error against
the scanner's true geometry, the station id read (by QR code, by the
printed text through Tesseract), read right, read wrong, the problems
raised (OCR.403 unreadable, OCR.404 mismatch), count fields read exactly,
and seconds per page.

    python bench/scan_page.py [--pages 30] [--seed 0] [--json out.json]

Conditions: ``as scanned`` (the simulator's usual defects); ``poor scanner``
(150 dpi, blur 1.0-1.6 px, noise 5-10, JPEG 40-60); ``QR blotted`` (an ink
blot of 3-6 mm radius somewhere over the QR code); ``QR and text damaged``
(a QR blot, and correction fluid over part of the printed line);
``marks blotted`` (an ink blot of 4-5.5 mm over each registration mark);
``swapped`` (the PV written on another station's sheet: a mismatch to find).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from hardware_sim.paper import ScanDefects, Stain, scan_run
from hardware_sim.scenarios import simulate_station
from hardware_sim.stations import pick_stations
from ocr import ScanError, read_page
from pen.forms import load_form

PV = load_form("pv")
CONDITIONS = (
    "as scanned",
    "poor scanner",
    "QR blotted",
    "QR and text damaged",
    "marks blotted",
    "swapped",
)
POOR = ScanDefects(blur_sigma_px=(1.0, 1.6), noise_sigma=(5.0, 10.0), jpeg_quality=(40, 60))


def stains(condition: str, rng: np.random.Generator) -> list[Stain]:
    """The damage a condition paints on the sheet before it is scanned."""
    assert PV.station is not None
    q, st = PV.station.qr, PV.station
    seed = int(rng.integers(2**31))
    qr_blot = Stain(
        q.x + rng.uniform(0.25, 0.75) * q.width,
        q.y + rng.uniform(0.25, 0.75) * q.height,
        rng.uniform(3.0, 6.0),
        seed=seed,
    )
    if condition == "QR blotted":
        return [qr_blot]
    if condition == "QR and text damaged":
        x = st.text_x + rng.uniform(8.0, 22.0)
        return [qr_blot, Stain(x, st.text_y - 1.0, rng.uniform(2.0, 4.0), gray=255, seed=seed + 1)]
    if condition == "marks blotted":
        return [
            Stain(
                m.cx + rng.uniform(-1, 1),
                m.cy + rng.uniform(-1, 1),
                rng.uniform(4.0, 5.5),
                seed=seed + i,
            )
            for i, m in enumerate(PV.marks)
        ]
    return []


def measure(condition: str, pages: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    stations = pick_stations(pages, seed=seed + 17)
    tally: dict[str, Any] = {
        "pages": 0,
        "registered": 0,
        "by_marks": 0,
        "by_features": 0,
        "id_read": 0,
        "by_qr": 0,
        "by_text": 0,
        "id_right": 0,
        "id_wrong": 0,
        "OCR.403": 0,
        "OCR.404": 0,
        "counts": 0,
        "counts_exact": 0,
    }
    errors_mm: list[float] = []
    seconds = 0.0
    for i, station in enumerate(stations):
        scenario = "swapped_pages" if condition == "swapped" else "honest"
        run = simulate_station(station, scenario, seed=seed * 1000 + i, layout=PV)
        dpi = 150.0 if condition == "poor scanner" else float(rng.uniform(200, 300))
        defects = POOR if condition == "poor scanner" else ScanDefects()
        s = scan_run(
            run, dpi=dpi, seed=seed * 1000 + i, defects=defects, stains=stains(condition, rng)
        )
        tally["pages"] += 1
        start = time.perf_counter()
        try:
            page = read_page(s.image, PV, expected_station=run.station.id)
        except ScanError:
            seconds += time.perf_counter() - start
            continue
        seconds += time.perf_counter() - start
        reg, sid = page.registration, page.station_id
        tally["registered"] += 1
        tally["by_marks" if reg.method == "marks" else "by_features"] += 1
        worst = max(
            float(np.hypot(*np.subtract(reg.to_pixels(x, y), s.to_pixels(x, y))))
            for b in PV.boxes
            for x, y in ((b.rect.x, b.rect.y), (b.rect.right, b.rect.bottom))
        )
        errors_mm.append(worst / (dpi / 25.4))
        if sid.text:
            tally["id_read"] += 1
            tally["by_qr" if sid.method == "qr" else "by_text"] += 1
            right = sid.text == run.printed_station_id
            tally["id_right" if right else "id_wrong"] += 1
        if sid.problem is not None:
            tally[sid.problem.code] += 1
        truth = {k: str(v) for k, v in run.pv_counts("paper").counts() if v is not None}
        for name, value in truth.items():
            tally["counts"] += 1
            tally["counts_exact"] += page.fields[name].reading.text == value
    tally["corner_error_mm_median"] = float(np.median(errors_mm)) if errors_mm else None
    tally["corner_error_mm_max"] = float(np.max(errors_mm)) if errors_mm else None
    tally["seconds_per_page"] = seconds / max(tally["pages"], 1)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30, help="sheets per condition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = sorted(set(chosen) - set(CONDITIONS))
    if unknown:
        parser.error(f"unknown conditions {unknown}; use some of {', '.join(CONDITIONS)}")
    out: dict[str, Any] = {}
    rows = []
    for k, condition in enumerate(chosen):
        t = measure(condition, args.pages, args.seed + k)
        out[condition] = t
        n = max(t["pages"], 1)
        err = t["corner_error_mm_max"]
        rows.append(
            [
                condition,
                f"{t['pages']}",
                f"{t['registered'] / n:.0%} ({t['by_marks']}/{t['by_features']})",
                f"{t['corner_error_mm_median']:.2f} / {err:.2f}" if err is not None else "-",
                f"{t['id_read'] / n:.0%} ({t['by_qr']}/{t['by_text']})",
                f"{t['id_right'] / n:.0%}",
                f"{t['id_wrong']}",
                f"{t['OCR.403']} / {t['OCR.404']}",
                f"{t['counts_exact'] / max(t['counts'], 1):.1%}",
                f"{t['seconds_per_page']:.2f}",
            ]
        )
        print(f"  {condition}: done", flush=True)
    print("\nscanned PV sheets read by ocr.read_page (expected station given)")
    print_table(
        [
            "condition",
            "pages",
            "registered (marks/features)",
            "corner err mm (median / max)",
            "id read (qr/text)",
            "id right",
            "id wrong",
            "OCR.403 / 404",
            "counts exact",
            "s/page",
        ],
        rows,
    )
    path = write_json("scan-page", {"config": vars(args) | {"json": None}, **out}, args.json)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
