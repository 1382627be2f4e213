"""Scribbles and crossed-out boxes: how often clean ink is flagged, how often overwriting is.

Clean ink: every UNIPEN 1a digit (../shared, scaled to 7 mm high), count
fields of 1-5 digits written in the PV's combs by the simulator's writers
(real glyphs), and check marks as the simulator ticks the contact form's
boxes. Overwritten ink (``hardware_sim.overwriting``): a digit written in its
box then scribbled over (back and forth), circled over (loops) or crossed
out (an X); a count with one of its digits so treated, or struck through
(one or two lines); a checkbox blackened (scribble, loops). Reported per
set: the share flagged by :func:`ocr.overwriting.assess` and by which flag,
and the features' percentiles (to set :data:`ocr.overwriting.LIMITS`).

    python bench/overwriting.py [--fields 300] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from hardware_sim import overwriting as ow
from hardware_sim.day import _tick
from hardware_sim.glyphs import GlyphBank
from hardware_sim.handwriting import Writer
from ocr import read
from ocr.overwriting import assess, atoms, shape
from ocr.train import load_unipen
from pen.forms import load_form
from pen.forms.model import Rect
from pen.page import PageAddress

ROOT = Path(__file__).resolve().parent.parent
PAGE = PageAddress(70, 1, 1, 1)
Ink = list[np.ndarray]


def unipen_digits(data: Path) -> list[Ink]:
    """Every UNIPEN 1a digit, 7 mm high, timestamps at 75 Hz."""
    out = []
    for s in load_unipen(data / "unipen-1a.jsonl.gz"):
        pts = np.concatenate(s.strokes)
        k = 7.0 / max(float(np.ptp(pts[:, 1])), 1e-6)
        out.append([np.column_stack([st * k, np.arange(len(st)) * 13.3]) for st in s.strokes])
    return out


def _xyt(strokes: list[Any]) -> Ink:
    return [s.points[:, :3] for s in strokes]


Maker = Callable[[Rect, float, np.random.Generator], list[Any]]
OVER: dict[str, Maker] = {
    "scribble": lambda r, t, g: ow.scribble(r, t, g),
    "loops": lambda r, t, g: ow.loops(r, t, g),
    "cross": lambda r, t, g: ow.cross(r, t, g),
}


def sets(args: argparse.Namespace) -> dict[str, tuple[str, list[Ink]]]:
    """Name -> (field kind, inks); clean sets first."""
    rng = np.random.default_rng(args.seed)
    bank = GlyphBank.load()
    pv = load_form("pv")
    contact = load_form("contact")
    counts = [f for f in pv.fields if f.kind == "count"]
    boxes = [b.rect for f in contact.fields if f.kind == "checkbox" for b in f.boxes]
    out: dict[str, tuple[str, list[Ink]]] = {}
    if not args.no_unipen:
        out["UNIPEN digits (clean)"] = ("digit", unipen_digits(args.data))
    clean_counts, over_counts = [], {k: [] for k in (*OVER, "strike 1", "strike 2")}
    over_digits: dict[str, list[Ink]] = {k: [] for k in OVER}
    for n in range(args.fields):
        w = Writer(seed=int(rng.integers(2**31)), bank=bank)
        f = counts[n % len(counts)]
        text = str(int(rng.integers(1, 10 ** int(rng.integers(1, 6)))))
        ink = w.write_field(text, f, 0.0, pen_serial="P", page=PAGE)
        clean_counts.append(_xyt(ink))
        t = float(ink[-1].points[-1, 2]) + 500.0
        box = f.boxes[len(f.boxes) - 1 - int(rng.integers(len(text)))].rect
        for name, make in OVER.items():
            over_counts[name].append(_xyt(ink) + _xyt(make(box, t, rng)))
        span = Rect(
            f.boxes[len(f.boxes) - len(text)].rect.x,
            box.y,
            f.rect.right - f.boxes[len(f.boxes) - len(text)].rect.x,
            box.height,
        )
        for lines in (1, 2):
            over_counts[f"strike {lines}"].append(
                _xyt(ink) + _xyt(ow.strike(span, t, rng, lines=lines))
            )
        digit = w.write_in_box(str(int(rng.integers(10))), box, 0.0, pen_serial="P", page=PAGE)
        t = float(digit[-1].points[-1, 2]) + 500.0
        for name, make in OVER.items():
            over_digits[name].append(_xyt(digit) + _xyt(make(box, t, rng)))
    out["count fields (clean)"] = ("count", clean_counts)
    ticks = [_xyt([_tick(boxes[n % len(boxes)], 0.0, "P", PAGE, rng)]) for n in range(args.fields)]
    out["checkbox ticks (clean)"] = ("checkbox", ticks)
    crosses = [_xyt(ow.cross(boxes[n % len(boxes)], 0.0, rng)) for n in range(args.fields)]
    out["checkbox X (clean: a tick)"] = ("checkbox", crosses)
    for name, inks in over_digits.items():
        out[f"digit + {name}"] = ("digit", inks)
    for name, inks in over_counts.items():
        out[f"count + {name}" if "strike" not in name else f"count {name}"] = ("count", inks)
    for name in ("scribble", "loops"):
        maker = OVER[name]
        out[f"checkbox {name}"] = (
            "checkbox",
            [_xyt(maker(boxes[n % len(boxes)], 0.0, rng)) for n in range(args.fields)],
        )
    return out


def percentiles(kind: str, inks: list[Ink]) -> dict[str, list[float]]:
    """Features per character (checkbox: per box): 50th, 99th, 99.9th percentiles."""
    rows = []
    for ink in inks:
        units = [ink] if kind == "checkbox" else [list(a.strokes) for a in atoms(ink)]
        rows += [shape(u) for u in units]
    out = {}
    for name in ("reversals", "crossings", "struck", "density"):
        v = np.array([getattr(r, name) for r in rows], float)
        out[name] = [float(np.percentile(v, q)) for q in (50, 99, 99.9)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/handwriting")
    parser.add_argument("--fields", type=int, default=300, help="fields per simulated set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-unipen", action="store_true", help="skip the 11,134 UNIPEN digits")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}
    rows = []
    for name, (kind, inks) in sets(args).items():
        start = time.perf_counter()
        flags = [assess(ink, kind) for ink in inks]
        ms = (time.perf_counter() - start) / len(inks) * 1000
        share = float(np.mean([bool(f) for f in flags]))
        by = {f: float(np.mean([f in x for x in flags])) for f in ("scribble", "crossed_out")}
        pct = percentiles(kind, inks)
        out[name] = {
            "kind": kind,
            "n": len(inks),
            "flagged": share,
            **by,
            "features": pct,
            "ms": ms,
        }
        rows.append(
            [
                name,
                kind,
                f"{len(inks)}",
                f"{share:.1%}",
                f"{by['scribble']:.1%}",
                f"{by['crossed_out']:.1%}",
                *(
                    f"{pct[k][0]:.0f}/{pct[k][1]:.0f}/{pct[k][2]:.0f}"
                    for k in ("reversals", "crossings", "struck")
                ),
                f"{pct['density'][0]:.1f}/{pct['density'][1]:.1f}/{pct['density'][2]:.1f}",
                f"{ms:.1f}",
            ]
        )
        print(f"  {name}: {share:.1%} flagged", flush=True)
    # the flag through ocr.read: a flagged field keeps at most FLAGGED_CONFIDENCE
    kind, inks = sets(argparse.Namespace(**{**vars(args), "fields": 20, "no_unipen": True}))[
        "count + scribble"
    ]
    top = max(read(ink, kind).confidence for ink in inks if assess(ink, kind))
    print("\nink flagged by ocr.overwriting.assess (features: median/99th/99.9th percentile)")
    print_table(
        [
            "set",
            "kind",
            "n",
            "flagged",
            "scribble",
            "crossed_out",
            "reversals",
            "crossings",
            "struck",
            "density",
            "ms",
        ],
        rows,
    )
    print(f"highest confidence of a flagged count read through ocr.read: {top:.3f}")
    path = write_json(
        "overwriting",
        {"config": vars(args) | {"data": str(args.data), "json": None}, **out},
        args.json,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
