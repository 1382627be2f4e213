"""Train the digit model from UNIPEN and write it as ``.npz``: reproducible, seeded.

    python -m ocr.train --data ../shared/data/handwriting --out ocr/models/digits.npz

Reads ``unipen-1a.jsonl.gz`` (isolated digits; y points up there and is
flipped), adds augmented copies of every sample (rotation, slant, anisotropic
scale, jitter, sampling rate, stroke order), fits a multilayer perceptron with
Adam in numpy, then fits the calibration temperature on out-of-fold scores:
one model per development contributor trained without it
(leave-one-contributor-out, never a random split), scored on it. The final
model is trained on all contributors and carries that temperature.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ocr.features import FloatArray, batch_features
from ocr.model import DIGIT_MODEL, Classifier, Mlp, softmax

DIGITS = tuple("0123456789")
#: MLPs in the shipped ensemble.
MEMBERS = 3
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Sample:
    """One UNIPEN character: strokes as (N, 2) arrays with y down."""

    strokes: tuple[FloatArray, ...]
    label: str
    contributor: str
    writer: str


def load_unipen(path: Path, labels: Sequence[str] = DIGITS) -> list[Sample]:
    """Samples of ``labels`` from a UNIPEN ``.jsonl.gz`` file, y flipped to point down."""
    keep = set(labels)
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d["label"] not in keep or not d["strokes"]:
                continue
            strokes = tuple(np.asarray(s, dtype=np.float64) * [1.0, -1.0] for s in d["strokes"])
            out.append(Sample(strokes, d["label"], d["contributor"], d["writer"]))
    return out


def augment(strokes: Sequence[FloatArray], rng: np.random.Generator) -> list[FloatArray]:
    """A plausible other rendering of the same character by another hand or device."""
    pts = np.concatenate(strokes)
    height = max(float(np.ptp(pts[:, 1])), float(np.ptp(pts[:, 0])), 1e-9)
    a = np.deg2rad(rng.uniform(-12, 12))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shear = np.array([[1.0, rng.uniform(-0.35, 0.35)], [0.0, 1.0]])
    scale = np.diag([np.exp(rng.normal(0, 0.12)), 1.0])
    m = rot @ shear @ scale
    step = int(rng.integers(1, 4))
    sigma = rng.uniform(0.0, 0.012) * height
    out = []
    for s in strokes:
        s = s[::step] if len(s) > 2 * step else s
        out.append(s @ m.T + rng.normal(0, sigma, s.shape))
    if len(out) > 1 and rng.random() < 0.15:
        out = [out[i] for i in rng.permutation(len(out))]
    if rng.random() < 0.05:
        i = int(rng.integers(len(out)))
        out[i] = out[i][::-1]
    return out


def features_with_copies(
    samples: Sequence[Sample], copies: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Features of the samples (n, F) and of ``copies`` augmented renderings (copies, n, F)."""
    rng = np.random.default_rng(seed)
    base = batch_features([s.strokes for s in samples])
    aug = np.stack(
        [batch_features([augment(s.strokes, rng) for s in samples]) for _ in range(copies)]
    )
    return base, aug


def fit_mlp(
    x: FloatArray,
    y: IntArray,
    *,
    classes: tuple[str, ...] = DIGITS,
    hidden: tuple[int, ...] = (256, 128),
    epochs: int = 30,
    seed: int = 0,
    lr: float = 2e-3,
    decay: float = 1e-4,
) -> Classifier:
    """A ReLU MLP fitted by Adam on softmax cross-entropy (temperature 1)."""
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-3
    xs = (x - mean) / std
    sizes = [x.shape[1], *hidden, len(classes)]
    ws = [rng.normal(0, np.sqrt(2.0 / a), (a, b)) for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b) for b in sizes[1:]]
    params = [*ws, *bs]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    n, batch, step = len(xs), 256, 0
    total = epochs * ((n + batch - 1) // batch)
    onehot = np.eye(len(classes))[y]
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            acts = [xs[idx]]
            for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
                h = acts[-1] @ w + b
                acts.append(np.maximum(h, 0.0) if i < len(ws) - 1 else h)
            grad = (softmax(acts[-1]) - onehot[idx]) / len(idx)
            gw: list[FloatArray] = [np.empty(0)] * len(ws)
            gb: list[FloatArray] = [np.empty(0)] * len(ws)
            for i in range(len(ws) - 1, -1, -1):
                gw[i] = acts[i].T @ grad + decay * ws[i]
                gb[i] = grad.sum(axis=0)
                if i:
                    grad = (grad @ ws[i].T) * (acts[i] > 0)
            step += 1
            rate = lr * 0.5 * (1 + np.cos(np.pi * step / total))
            for p, g, a, v in zip(params, [*gw, *gb], m1, m2, strict=True):
                a *= 0.9
                a += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                p -= rate * (a / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return Classifier(classes, (Mlp(mean, std, tuple(ws), tuple(bs)),))


def fit_temperature(logits: FloatArray, y: IntArray) -> float:
    """The temperature minimising the negative log-likelihood of held-out labels."""
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 241)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def fit_ensemble(
    base: FloatArray,
    aug: FloatArray,
    y: IntArray,
    rows: IntArray,
    *,
    members: int,
    epochs: int,
    seed: int,
) -> Classifier:
    """``members`` MLPs, member k fitted (seed + k) on the originals of ``rows`` and its
    own share of the augmented copies (``aug`` holds ``members`` shares in turn)."""
    share = len(aug) // members
    fitted = []
    for k in range(members):
        x, yy = training_rows(base, aug[k * share : (k + 1) * share], y, rows)
        fitted.append(fit_mlp(x, yy, epochs=epochs, seed=seed + k))
    return Classifier(fitted[0].classes, tuple(m for f in fitted for m in f.members))


def training_rows(
    base: FloatArray, aug: FloatArray, y: IntArray, rows: IntArray
) -> tuple[FloatArray, IntArray]:
    """Stack the original and augmented features of ``rows`` with their labels."""
    x = np.concatenate([base[rows], *(a[rows] for a in aug)])
    return x, np.tile(y[rows], 1 + len(aug))


def loco_models(
    samples: Sequence[Sample],
    base: FloatArray,
    aug: FloatArray,
    *,
    epochs: int,
    seed: int,
    members: int = 1,
) -> Iterator[tuple[str, Classifier, npt.NDArray[np.bool_]]]:
    """Per contributor: the model trained without it, and the mask of its samples."""
    y = np.array([DIGITS.index(s.label) for s in samples])
    contrib = np.array([s.contributor for s in samples])
    for c in sorted(set(contrib)):
        rows = np.flatnonzero(contrib != c)
        model = fit_ensemble(base, aug, y, rows, members=members, epochs=epochs, seed=seed)
        yield c, model, contrib == c


def out_of_fold_logits(
    samples: Sequence[Sample],
    base: FloatArray,
    aug: FloatArray,
    *,
    epochs: int,
    seed: int,
    members: int = 1,
) -> FloatArray:
    """Logits of every sample from the model trained without its contributor."""
    y = np.array([DIGITS.index(s.label) for s in samples])
    out = np.zeros((len(samples), len(DIGITS)))
    folds = loco_models(samples, base, aug, epochs=epochs, seed=seed, members=members)
    for c, model, held in folds:
        out[held] = model.logits(base[held])
        acc = float(np.mean(out[held].argmax(axis=1) == y[held]))
        print(f"  held out {c}: {held.sum():5d} digits, top-1 {acc:.4f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the online digit model from UNIPEN.")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/handwriting"))
    parser.add_argument("--out", type=Path, default=DIGIT_MODEL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--copies", type=int, default=4, help="augmented copies per sample")
    parser.add_argument("--members", type=int, default=MEMBERS, help="MLPs in the ensemble")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    samples = load_unipen(args.data / "unipen-1a.jsonl.gz")
    print(f"{len(samples)} digits from {len({s.contributor for s in samples})} contributors")
    base, aug = features_with_copies(samples, args.copies * args.members, args.seed)
    y = np.array([DIGITS.index(s.label) for s in samples])
    print("leave-one-contributor-out, for the calibration temperature:")
    oof = out_of_fold_logits(
        samples, base, aug, epochs=args.epochs, seed=args.seed, members=args.members
    )
    temperature = fit_temperature(oof, y)
    print(
        f"out-of-fold top-1 {np.mean(oof.argmax(axis=1) == y):.4f}; temperature {temperature:.3f}"
    )
    rows = np.arange(len(samples))
    model = fit_ensemble(
        base, aug, y, rows, members=args.members, epochs=args.epochs, seed=args.seed
    )
    model.with_temperature(temperature).save(args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
