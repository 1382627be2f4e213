"""Fit the count segmentation's gap logistic (:data:`ocr.online.GAP`) on digits laid out
as counts: reproducible, seeded.

    python -m ocr.train_count --data ../shared/data/handwriting

:func:`ocr.online.read_count` weighs each gap between neighbouring atoms (strokes
grouped by horizontal overlap) as a digit boundary with probability
``logistic(a + b * gap / ink height)``. The gaps *inside* a digit are real:
UNIPEN 1a digits whose strokes do not overlap (the bar of a 4 beside its
stem, the flag of a 5; 3% of the digits, their gaps up to 0.4 of the digit
height). The gaps *between* digits are the layout of :func:`synth_count` (7 mm
digits, 0.8-3 mm apart, never touching): an assumption, the same as the
bench's, not a measurement of voters' writing. ``a`` and ``b`` are the maximum
likelihood logistic regression of boundary on gap over every atom gap of
synthetic counts written with each writer's own digits.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ocr.charsets import CHARSETS
from ocr.features import FloatArray
from ocr.online import atoms
from ocr.train import Sample, load_charset

#: Synthetic counts written per fit.
FIELDS = 3000


def synth_count(digits: Sequence[Sample], rng: np.random.Generator) -> tuple[str, list[FloatArray]]:
    """One count field written with the given writer's digits, in mm, y down, ms: 7 mm
    high (+-10%), 0.8-3 mm apart, the baseline jittered by 0.4 mm."""
    x, t, text, out = 10.0, 0.0, "", []
    for d in digits:
        pts = np.concatenate(d.strokes)
        lo = pts.min(axis=0)
        h = 7.0 * rng.uniform(0.9, 1.1) / max(float(np.ptp(pts[:, 1])), 1e-6)
        y0 = 20.0 + rng.normal(0, 0.4)
        for s in d.strokes:
            xy = (s - lo) * h + [x, y0]
            ts = t + np.arange(len(xy)) * 13.3
            out.append(np.column_stack([xy, ts]))
            t = float(ts[-1]) + rng.uniform(80, 300)
        x += float(np.ptp(pts[:, 0])) * h + rng.uniform(0.8, 3.0)
        t += rng.uniform(200, 600)
        text += d.label
    return text, out


def labelled_gaps(
    samples: Sequence[Sample], rng: np.random.Generator, fields: int = FIELDS
) -> tuple[FloatArray, FloatArray]:
    """Gaps between neighbouring atoms (over the ink height) of synthetic counts of 1-5
    digits, each by one writer of ``samples``, and whether each is a digit boundary."""
    by_writer: dict[str, list[Sample]] = {}
    for s in samples:
        by_writer.setdefault(s.writer, []).append(s)
    writers = sorted(w for w, v in by_writer.items() if len(v) >= 5)
    gaps, bound = [], []
    for _ in range(fields):
        pool = by_writer[writers[int(rng.integers(len(writers)))]]
        picked = [pool[int(j)] for j in rng.choice(len(pool), int(rng.integers(1, 6)))]
        _, strokes = synth_count(picked, rng)
        owner: dict[int, int] = {}
        start = 0
        for k, digit in enumerate(picked):
            for stroke in strokes[start : start + len(digit.strokes)]:
                owner[id(stroke)] = k
            start += len(digit.strokes)
        found = atoms(strokes)
        height = max(float(np.ptp(np.concatenate([s[:, 1] for s in strokes]))), 1e-6)
        for left, right in itertools.pairwise(found):
            gaps.append((right.x0 - left.x1) / height)
            bound.append(
                float({owner[id(s)] for s in left.strokes} != {owner[id(s)] for s in right.strokes})
            )
    return np.array(gaps), np.array(bound)


def fit_logistic(x: FloatArray, y: FloatArray, iters: int = 50) -> tuple[float, float]:
    """Maximum likelihood ``(a, b)`` of ``P(y) = logistic(a + b x)`` (Newton's method,
    a tiny ridge so separable data stays finite)."""
    X = np.column_stack([np.ones_like(x), x])
    w = np.zeros(2)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -50, 50)))
        grad = X.T @ (p - y) + 1e-3 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-3 * np.eye(2)
        w -= np.linalg.solve(hess, grad)
    return float(w[0]), float(w[1])


def fit_gaps(samples: Sequence[Sample], seed: int = 0, fields: int = FIELDS) -> tuple[float, float]:
    """The gap logistic ``(a, b)`` fitted on synthetic counts of ``samples``' writers."""
    gaps, bound = labelled_gaps(samples, np.random.default_rng(seed), fields)
    return fit_logistic(gaps, bound)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/handwriting"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fields", type=int, default=FIELDS)
    args = parser.parse_args(argv)
    samples = load_charset(args.data, CHARSETS["digit"])
    a, b = fit_gaps(samples, args.seed, args.fields)
    print(f"GAP = ({a:.3f}, {b:.3f})  # boundary probability 0.5 at gap {-a / b:.3f} x height")
    return 0


if __name__ == "__main__":
    sys.exit(main())
