"""Train the offline (scanned ink) digit model from UNIPEN: reproducible, seeded.

    python -m ocr.train_scan --data ../shared/data/handwriting

Each UNIPEN digit is written into a printed comb box the way the simulator's
writers place glyphs: the writer's median digit height at 50-75% of the box
height (so a writer's small 0 stays small, and its strokes relatively thick,
as on their paper, rather than every glyph stretched to one height), slant,
a little rotation, kept 10% inside the box. It is printed as
``hardware_sim.paper`` prints a PV (pale box fill and outline, ballpoint ink
0.45 mm wide, anti-aliased) at 200 to 300 dpi, then goes through a
scanner's defects (the sheet turned up to 3 degrees, blur, uneven light,
sensor noise, JPEG 70-92) and is registered back to the 8 px/mm frame with
a small error; the box is then cut and normalised by the very functions
:func:`ocr.scan.read_scan` uses (:func:`ocr.scan.cell_ink`,
:func:`ocr.scan.raster`).

Writers the simulator's glyph bank holds (``--bank``,
``hardware_sim/data/glyphs.npz``) are left out of training altogether, so
that scans of simulated PVs are read by a model that never saw their
writers; they are reported as the held-out test. The calibration
temperature is fitted on contributors held out from a first model
(``--calibrate-on``, never a random split); the shipped ensemble is then
trained on every other writer and carries that temperature. The defaults
(12 renderings a digit, 5 members, 25 epochs, seed 0) build the shipped
``ocr/models/scan_digits.npz``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ocr.charsets import DIGITS
from ocr.model import Classifier, FloatArray
from ocr.scan import CELL_INSET_MM, PX_PER_MM, SCAN_MODEL, cell_ink, raster, raster_features
from ocr.train import IntArray, Sample, augment, fit_mlp, fit_temperature, labels_of, load_unipen
from pen.forms.render import BOX_COLOUR, BOX_FILL, INK_COLOUR

#: The simulator's glyph bank (its writers are kept out of training).
BANK = Path(__file__).resolve().parent.parent / "hardware_sim" / "data" / "glyphs.npz"
CELL_W, CELL_H = 7.0, 9.0
SURROUND_MM = 2.0
HIDDEN = (160, 80)


def _gray(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def writer_units(samples: Sequence[Sample]) -> dict[str, float]:
    """Each writer's median digit height (their digitiser's units), as the glyph bank
    scales its writers (``scripts/build_glyph_bank.py``)."""
    heights: dict[str, list[float]] = {}
    for s in samples:
        heights.setdefault(s.writer, []).append(float(np.ptp(np.vstack(s.strokes)[:, 1])))
    return {w: max(float(np.median(h)), 1.0) for w, h in heights.items()}


def _placed(
    strokes: Sequence[FloatArray], rng: np.random.Generator, unit: float
) -> list[FloatArray]:
    """The glyph in cell mm (cell at the origin), as a writer of the simulator places it:
    the writer's median digit height (``unit``) at 55-70% of the box, so a writer's small
    0 stays small (and its strokes relatively thick) as on their paper."""
    pts = np.vstack(strokes)
    lo = pts.min(axis=0)
    scale = CELL_H * rng.uniform(0.5, 0.75) / unit
    slant = rng.normal(0.0, 0.08)
    a = np.radians(rng.normal(0.0, 2.0))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    out = []
    for s in strokes:
        p = (s - lo) * scale
        p[:, 0] -= p[:, 1] * slant
        out.append(p @ rot.T)
    allp = np.vstack(out)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    w, h = hi - lo
    margin = 0.1 * CELL_W
    room_w, room_h = CELL_W - 2 * margin, CELL_H - 2 * margin
    shrink = min(1.0, room_w / max(w, 1e-6), room_h / max(h, 1e-6))
    left = margin + rng.uniform(0, 1) * (room_w - w * shrink)
    top = margin + rng.uniform(0, 1) * (room_h - h * shrink)
    return [(p - lo) * shrink + (left, top) for p in out]


def _with_bar(strokes: list[FloatArray], rng: np.random.Generator) -> list[FloatArray]:
    """A 1 turned into a 7 by a later hand: a bar drawn into the top of its stem."""
    pts = np.vstack(strokes)
    top = pts[int(np.argmin(pts[:, 1]))]
    length = rng.uniform(0.25, 0.5) * CELL_W
    left = (max(0.5, top[0] - length), top[1] + rng.uniform(-0.2, 0.6))
    s = np.linspace(0.0, 1.0, 12)
    x = left[0] + (top[0] + rng.uniform(0, 0.5) - left[0]) * s
    y = left[1] + (top[1] - left[1]) * s + rng.uniform(-0.3, 0.4) * np.sin(np.pi * s)
    return [*strokes, np.column_stack([x, y]) + rng.normal(0, 0.04, (len(s), 2))]


def render_cell(
    strokes: Sequence[FloatArray], rng: np.random.Generator, unit: float, *, bar: bool = False
) -> FloatArray | None:
    """One digit in a printed box, scanned and registered: the classifier's input raster.

    ``unit``: the writer's median digit height in the strokes' units. ``bar``: a bar is
    added to the glyph's top after it is placed (a 1 altered into a 7).
    """
    k = rng.uniform(200, 300) / 25.4  # scanner px per mm
    pad = SURROUND_MM
    w, h = round((CELL_W + 2 * pad) * k), round((CELL_H + 2 * pad) * k)
    img = np.full((h, w), 255.0, np.float32)
    f = 16

    def p(x: float, y: float) -> tuple[int, int]:
        return (round((x + pad) * k * f), round((y + pad) * k * f))

    x0, y0 = round(pad * k), round(pad * k)
    x1, y1 = round((pad + CELL_W) * k), round((pad + CELL_H) * k)
    img[y0:y1, x0:x1] = _gray(BOX_FILL)
    cv2.rectangle(
        img, p(0, 0), p(CELL_W, CELL_H), _gray(BOX_COLOUR), max(1, round(0.25 * k)), cv2.LINE_AA, 4
    )
    placed = _placed(strokes, rng, unit)
    for s in _with_bar(placed, rng) if bar else placed:
        pts = np.array([p(x, y) for x, y in s], np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, _gray(INK_COLOUR), max(1, round(0.45 * k)), cv2.LINE_AA, 4)
    # The scanner: the sheet turned, blur, light, noise, JPEG.
    angle = rng.uniform(-3, 3)
    centre = (w / 2, h / 2)
    turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
    turned = cv2.warpAffine(img, turn, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    blurred = cv2.GaussianBlur(turned, (0, 0), rng.uniform(0.4, 1.0))
    lit = blurred * rng.uniform(0.82, 1.0) + rng.normal(0, rng.uniform(2, 6), blurred.shape)
    q = int(rng.integers(70, 93))
    jpeg = np.clip(lit, 0, 255).astype(np.uint8)
    _, buf = cv2.imencode(".jpg", jpeg, [cv2.IMWRITE_JPEG_QUALITY, q])
    scanned = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), np.float32)
    paper = max(float(np.percentile(scanned, 90)), 1.0)
    flat = np.clip(scanned / paper * 255, 0, 255)
    # Registration back to the 8 px/mm frame, a little off (as a real fit is).
    r = PX_PER_MM / k
    back = cv2.getRotationMatrix2D(centre, -angle + rng.normal(0, 0.15), r)
    back[:, 2] = back[:, 2] + np.array(centre) * (r - 1) + rng.normal(0, 0.12 * PX_PER_MM, 2)
    ow, oh = round((CELL_W + 2 * pad) * PX_PER_MM), round((CELL_H + 2 * pad) * PX_PER_MM)
    cell = cv2.warpAffine(flat, back, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=255)
    cell8 = np.clip(cell, 0, 255).astype(np.uint8)
    i0 = round((pad + CELL_INSET_MM) * PX_PER_MM)
    crop = cell8[
        i0 : round((pad + CELL_H - CELL_INSET_MM) * PX_PER_MM),
        i0 : round((pad + CELL_W - CELL_INSET_MM) * PX_PER_MM),
    ]
    ink = cell_ink(crop)
    if ink.sum() < 10:
        return None
    return raster(crop, ink)


def _render_chunk(
    args: tuple[list[tuple[FloatArray, ...]], list[float], list[bool], int, bool],
) -> list[FloatArray | None]:
    """Render glyphs seeded (with their bars); ``distort``: reshape each as another hand would."""
    glyphs, units, bars, seed, distort = args
    rng = np.random.default_rng(seed)
    return [
        render_cell(augment(g, rng) if distort else g, rng, u, bar=b)
        for g, u, b in zip(glyphs, units, bars, strict=True)
    ]


def render_all(
    samples: Sequence[Sample],
    bars: Sequence[bool],
    copies: int,
    seed: int,
    workers: int,
    unit: Mapping[str, float],
) -> tuple[FloatArray, IntArray]:
    """``copies`` scanned renderings of every sample (all but the first reshaped by
    :func:`ocr.train.augment`), each writer's digits sized by ``unit`` (their median
    digit height): classifier inputs and the sample index of each row."""
    jobs = []
    chunk = 500
    for c in range(copies):
        for start in range(0, len(samples), chunk):
            part = samples[start : start + chunk]
            glyphs = [s.strokes for s in part]
            units = [unit[s.writer] for s in part]
            barred = list(bars[start : start + chunk])
            jobs.append((glyphs, units, barred, seed * 1_000_003 + c * 10_007 + start, c > 0))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_render_chunk, jobs))
    rasters, index = [], []
    j = 0
    for _ in range(copies):
        for start in range(0, len(samples), chunk):
            for i, r in enumerate(results[j]):
                if r is not None:
                    rasters.append(r)
                    index.append(start + i)
            j += 1
    return raster_features(rasters), np.array(index, dtype=np.int64)


def bank_writers(path: Path) -> set[str]:
    """The UNIPEN writer ids (the corpus's ``writer``) whose digits the glyph bank holds."""
    with np.load(path, allow_pickle=False) as z:
        return {str(w) for w, d in zip(z["writers"], z["has_digits"], strict=True) if d}


def fit(x: FloatArray, y: IntArray, *, members: int, epochs: int, seed: int) -> Classifier:
    """An ensemble of ``members`` raster MLPs, each on its own share of the rows."""
    share = np.array_split(np.random.default_rng(seed).permutation(len(x)), members)
    fitted = [
        fit_mlp(x[rows], y[rows], classes=DIGITS, hidden=HIDDEN, epochs=epochs, seed=seed + k)
        for k, rows in enumerate(share)
    ]
    return Classifier(DIGITS, tuple(m for f in fitted for m in f.members))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the scanned-digit model from UNIPEN.")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/handwriting"))
    parser.add_argument("--bank", type=Path, default=BANK, help="glyph bank: writers left out")
    parser.add_argument("--out", type=Path, default=SCAN_MODEL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--copies", type=int, default=12, help="scanned renderings per sample")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--calibrate-on", default="ced,val", help="contributors held out for the temperature"
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    samples = load_unipen(args.data / "unipen-1a.jsonl.gz")
    unit = writer_units(samples)
    bank = bank_writers(args.bank)
    held = [s for s in samples if s.writer in bank]
    train = [s for s in samples if s.writer not in bank]
    print(f"{len(train)} training digits; {len(held)} by the simulator's writers, held out")
    # The classic alteration: a 1 turned into a 7 by a bar; its 7s must read as 7s.
    ones = [Sample(s.strokes, "7", s.contributor, s.writer) for s in train if s.label == "1"]
    train += ones
    bars = [False] * (len(train) - len(ones)) + [True] * len(ones)
    x, idx = render_all(train, bars, args.copies, args.seed, args.workers, unit)
    y = labels_of(train, DIGITS)[idx]
    xt, it = render_all(held, [False] * len(held), 1, args.seed + 1, args.workers, unit)
    yt = labels_of(held, DIGITS)[it]
    print(f"rendered {len(x) + len(xt)} scanned boxes in {time.perf_counter() - t0:.0f} s")
    cal = set(args.calibrate_on.split(","))
    contrib = np.array([train[i].contributor for i in idx])
    out_rows = np.isin(contrib, sorted(cal))
    fold = {"members": args.members, "epochs": args.epochs, "seed": args.seed}
    first = fit(x[~out_rows], y[~out_rows], **fold)
    logits = first.logits(x[out_rows])
    temperature = fit_temperature(logits, y[out_rows])
    acc = float(np.mean(logits.argmax(axis=1) == y[out_rows]))
    print(f"held-out contributors {sorted(cal)}: top-1 {acc:.4f}; temperature {temperature:.3f}")
    model = fit(x, y, **fold)
    model = model.with_temperature(temperature)
    test = model.probabilities(xt)
    print(
        f"simulator's writers (never trained on): top-1 {np.mean(test.argmax(axis=1) == yt):.4f}, "
        f"mean confidence {test.max(axis=1).mean():.4f}"
    )
    model.save(args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
