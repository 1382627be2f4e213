"""Train a character model from UNIPEN and write it as ``.npz``: reproducible, seeded.

    python -m ocr.train --kind digit --data ../shared/data/handwriting

``--kind`` is one of :data:`ocr.charsets.CHARSETS` (``digit``, ``upper``,
``lower``, ``email_char``); the model goes to that kind's file under
``ocr/models`` unless ``--out`` says otherwise. Reads the kind's UNIPEN files
(isolated characters; y points up there and is flipped), adds augmented
copies of every sample (rotation, slant, anisotropic scale, jitter, sampling
rate, stroke order), fits an ensemble of multilayer perceptrons with Adam in
numpy, then fits the calibration temperature on out-of-fold scores: one model
per development contributor (or per group of contributors, ``--folds``)
trained without it, never a random split, scored on it. The final model is
trained on all contributors and carries that temperature.
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

from ocr.charsets import CHARSETS, DIGITS, Charset
from ocr.features import (
    DEFAULT_FEATURES,
    FEATURE_SETS,
    TRACK_OFFSET,
    TRACK_POINTS,
    FloatArray,
    batch_features,
)
from ocr.model import Classifier, Member, Mlp, softmax

#: MLPs in the shipped ensemble.
MEMBERS = 3
#: Epochs of a convolutional member.
NET_EPOCHS = 12
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


def load_charset(data: Path, charset: Charset) -> list[Sample]:
    """The samples of every class of ``charset`` from its UNIPEN files under ``data``,
    labelled with their class (``_`` becomes ``-`` for ``email_char``)."""
    out = []
    for stem in charset.files:
        labels = [c for c in (*charset.classes, *dict(charset.merge)) if c]
        for s in load_unipen(data / f"{stem}.jsonl.gz", labels):
            cls = charset.label_class(s.label)
            if cls is not None:
                out.append(Sample(s.strokes, cls, s.contributor, s.writer))
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
    samples: Sequence[Sample],
    copies: int,
    seed: int,
    feature_set: str = DEFAULT_FEATURES,
    *,
    track_only: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Features of the samples (n, F) and of ``copies`` augmented renderings (copies, n, F).
    ``track_only`` (networks only, feature set ``v3``): only the track is computed and
    everything is kept in float32, a third of the memory (e-mail characters with 4
    copies otherwise outgrow a 24 GB machine)."""
    rng = np.random.default_rng(seed)
    dtype = np.float32 if track_only else np.float64
    base = batch_features([s.strokes for s in samples], feature_set, track_only=track_only)
    aug = np.empty((copies, *base.shape), dtype=dtype)
    for k in range(copies):
        aug[k] = batch_features(
            [augment(s.strokes, rng) for s in samples], feature_set, track_only=track_only
        )
    return base.astype(dtype, copy=False), aug


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
    classes: tuple[str, ...] = DIGITS,
    members: int,
    epochs: int,
    seed: int,
    nets: int = 0,
    inks: int = 0,
    net_epochs: int = NET_EPOCHS,
) -> Classifier:
    """``members`` MLPs, member k fitted (seed + k) on the originals of ``rows`` and its
    own share of the augmented copies (``aug`` holds ``members`` shares in turn), then
    ``nets`` 1-D convolutional members on the pen track and ``inks`` 2-D convolutional
    members on the ink drawn as an image (:mod:`ocr.train_net`, torch; seed + k), fitted
    on the originals and all the copies (features ``v3``)."""
    share = len(aug) // max(members, 1)
    width = FEATURE_SETS["v2"] if nets or inks else base.shape[1]
    fitted: list[Member] = []
    for k in range(members):
        x, yy = training_rows(base, aug[k * share : (k + 1) * share], y, rows)
        fit = fit_mlp(x[:, :width], yy, classes=classes, epochs=epochs, seed=seed + k)
        fitted.extend(fit.members)
    if nets or inks:
        from ocr import train_net  # torch: a training-only dependency

        tracks = np.concatenate([base[None, rows, TRACK_OFFSET:], aug[:, rows, TRACK_OFFSET:]])
        tracks = tracks.reshape(len(aug) + 1, len(rows), TRACK_POINTS, 3)
        for image, count in ((False, nets), (True, inks)):
            for k in range(count):
                fitted.append(
                    train_net.fit_convnet(
                        tracks,
                        y[rows],
                        n_classes=len(classes),
                        epochs=net_epochs,
                        seed=seed + k,
                        image=image,
                    )
                )
    feature_set = "v3" if nets or inks else DEFAULT_FEATURES
    return Classifier(classes, tuple(fitted), feature_set=feature_set)


def training_rows(
    base: FloatArray, aug: FloatArray, y: IntArray, rows: IntArray
) -> tuple[FloatArray, IntArray]:
    """Stack the original and augmented features of ``rows`` with their labels."""
    x = np.concatenate([base[rows], *(a[rows] for a in aug)])
    return x, np.tile(y[rows], 1 + len(aug))


def labels_of(samples: Sequence[Sample], classes: tuple[str, ...]) -> IntArray:
    """Class indices of the samples' labels."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[s.label] for s in samples], dtype=np.int64)


def loco_models(
    samples: Sequence[Sample],
    base: FloatArray,
    aug: FloatArray,
    *,
    classes: tuple[str, ...] = DIGITS,
    epochs: int,
    seed: int,
    members: int = 1,
    folds: int = 0,
    nets: int = 0,
    inks: int = 0,
    net_epochs: int = NET_EPOCHS,
) -> Iterator[tuple[str, Classifier, npt.NDArray[np.bool_]]]:
    """Per contributor (or per group of contributors, ``folds`` > 0): the model trained
    without it, and the mask of its samples."""
    y = labels_of(samples, classes)
    contrib = np.array([s.contributor for s in samples])
    for name, group in contributor_groups(contrib, folds):
        held = np.isin(contrib, group)
        rows = np.flatnonzero(~held)
        model = fit_ensemble(
            base,
            aug,
            y,
            rows,
            classes=classes,
            members=members,
            epochs=epochs,
            seed=seed,
            nets=nets,
            inks=inks,
            net_epochs=net_epochs,
        )
        yield name, model, held


def contributor_groups(
    contrib: npt.NDArray[np.str_], folds: int = 0
) -> list[tuple[str, tuple[str, ...]]]:
    """Contributors to hold out together: one fold each (``folds`` 0), or ``folds``
    groups dealt in turn from the largest contributor down (to bound training time;
    still never a random split of one contributor's writers)."""
    names, counts = np.unique(contrib, return_counts=True)
    if folds <= 0 or folds >= len(names):
        return [(str(c), (str(c),)) for c in names]
    order = [str(names[i]) for i in np.argsort(-counts, kind="stable")]
    groups = [tuple(sorted(order[g::folds])) for g in range(folds)]
    return [("+".join(g), g) for g in groups]


def out_of_fold_logits(
    samples: Sequence[Sample],
    base: FloatArray,
    aug: FloatArray,
    *,
    classes: tuple[str, ...] = DIGITS,
    epochs: int,
    seed: int,
    members: int = 1,
    folds: int = 0,
    nets: int = 0,
    inks: int = 0,
    net_epochs: int = NET_EPOCHS,
) -> FloatArray:
    """Logits of every sample from the model trained without its contributor (group)."""
    y = labels_of(samples, classes)
    out = np.zeros((len(samples), len(classes)))
    fitted = loco_models(
        samples,
        base,
        aug,
        classes=classes,
        epochs=epochs,
        seed=seed,
        members=members,
        folds=folds,
        nets=nets,
        inks=inks,
        net_epochs=net_epochs,
    )
    for c, model, held in fitted:
        out[held] = model.logits(base[held])
        acc = float(np.mean(out[held].argmax(axis=1) == y[held]))
        print(f"  held out {c}: {held.sum():5d} characters, top-1 {acc:.4f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train an online character model from UNIPEN.")
    parser.add_argument("--kind", choices=sorted(CHARSETS), default="digit")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/handwriting"))
    parser.add_argument("--out", type=Path, default=None, help="default: the kind's model file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--copies", type=int, default=4, help="augmented copies per sample")
    parser.add_argument("--members", type=int, default=MEMBERS, help="MLPs in the ensemble")
    parser.add_argument(
        "--folds", type=int, default=0, help="contributor groups for the temperature; 0: one each"
    )
    parser.add_argument(
        "--nets", type=int, default=0, help="1-D convolutional members on the pen track (torch)"
    )
    parser.add_argument(
        "--inks", type=int, default=0, help="2-D convolutional members on the ink image (torch)"
    )
    parser.add_argument("--net-epochs", type=int, default=NET_EPOCHS)
    parser.add_argument(
        "--without",
        default="",
        help="contributors to leave out, comma-separated (a model for a held-out bench)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="calibration temperature to use as is (skips the out-of-fold models)",
    )
    args = parser.parse_args(argv)
    if args.nets or args.inks:
        import torch  # training only; one core, as the timings in docs/ocr.md

        torch.set_num_threads(1)
    charset = CHARSETS[args.kind]
    out: Path = args.out or charset.model
    t0, cpu0 = time.perf_counter(), time.process_time()
    samples = load_charset(args.data, charset)
    left_out = {c for c in args.without.split(",") if c}
    unknown = left_out - {s.contributor for s in samples}
    if unknown:
        parser.error(f"--without: no {args.kind} samples from {', '.join(sorted(unknown))}")
    samples = [s for s in samples if s.contributor not in left_out]
    n_contrib = len({s.contributor for s in samples})
    print(f"{len(samples)} {args.kind} samples from {n_contrib} contributors")
    feature_set = "v3" if args.nets or args.inks else DEFAULT_FEATURES
    copies = args.copies * max(args.members, 1)
    lean = args.members == 0 and bool(args.nets or args.inks)
    base, aug = features_with_copies(samples, copies, args.seed, feature_set, track_only=lean)
    y = labels_of(samples, charset.classes)
    fit = {"classes": charset.classes, "epochs": args.epochs, "seed": args.seed}
    nets = {"nets": args.nets, "inks": args.inks, "net_epochs": args.net_epochs}
    if args.temperature is None:
        print("leave-one-contributor-out, for the calibration temperature:")
        oof = out_of_fold_logits(
            samples, base, aug, members=args.members, folds=args.folds, **fit, **nets
        )
        temperature = fit_temperature(oof, y)
        top1 = np.mean(oof.argmax(axis=1) == y)
        print(f"out-of-fold top-1 {top1:.4f}; temperature {temperature:.3f}")
    else:
        temperature = args.temperature
    rows = np.arange(len(samples))
    model = fit_ensemble(base, aug, y, rows, members=args.members, **fit, **nets)
    model.with_temperature(temperature).save(out)
    size = out.stat().st_size
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(f"wrote {out} ({size / 1e6:.2f} MB) in {wall:.0f} s ({cpu:.0f} s of CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
