"""The character classifier: an ensemble of small networks evaluated in numpy.

Each member maps the glyph features to class scores; the ensemble's score is
the log of the members' mean probability, so members that disagree lower the
confidence. A member is a multilayer perceptron (:class:`Mlp`, on the
hand-made features) or a 1-D convolutional network (:class:`ConvNet`, on the
resampled pen track that feature set ``v3`` carries). Weights, feature
standardisation, the feature set and the calibration temperature live in one
``.npz`` file (format :data:`FORMAT_VERSION`; versions 1, one MLP on feature
set ``v1``, and 2, MLPs only, are still read) written by :mod:`ocr.train`;
nothing is loaded until :meth:`Classifier.load` is called. Inference needs
numpy only (the networks are trained with torch, :mod:`ocr.train_net`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ocr.errors import ModelFileError
from ocr.features import (
    DEFAULT_FEATURES,
    FEATURE_SETS,
    batch_features,
    render,
    track_channels,
)

FloatArray = npt.NDArray[np.float64]

#: Model file version this module writes; it reads this one and :data:`READS`.
FORMAT_VERSION = 3
#: Model file versions this module reads.
READS = (1, 2, 3)
#: The digit model shipped in the repository.
DIGIT_MODEL = Path(__file__).resolve().parent / "models" / "digits.npz"


def softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def _dense(
    h: FloatArray, weights: Sequence[FloatArray], biases: Sequence[FloatArray]
) -> FloatArray:
    """Dense layers ``h @ w + b``, ReLU between them (not after the last), in the weights'
    precision (shipped models: float32, half the memory traffic of float64); the scores
    are returned in float64."""
    last = len(weights) - 1
    h = h.astype(weights[0].dtype, copy=False)
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w + b
        if i < last:
            h = np.maximum(h, 0.0)
    out: FloatArray = h.astype(np.float64, copy=False)
    return out


def _mean_max(h: FloatArray) -> FloatArray:
    """Global mean and max pooling of (n, positions, channels) maps: (n, 2 x channels)."""
    return np.concatenate([h.mean(axis=1), h.max(axis=1)], axis=1)


@dataclass(frozen=True, eq=False, slots=True)
class Mlp:
    """One member: standardisation, ReLU hidden layers, linear output."""

    mean: FloatArray
    std: FloatArray
    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...]

    def logits(self, features: FloatArray) -> FloatArray:
        """Scores of the first ``len(mean)`` columns of the features."""
        h = (np.atleast_2d(features)[:, : len(self.mean)] - self.mean) / self.std
        return _dense(h, self.weights, self.biases)


@dataclass(frozen=True, eq=False, slots=True)
class ConvNet:
    """One member reading the pen track: 1-D convolutions ("same" padding, ReLU, batch
    normalisation folded into the weights, optional max-pooling by 2), global mean and
    max pooling, then dense layers (ReLU between them)."""

    offset: int
    """Where the track (points x (x, y, pen-up)) starts in the feature vector."""
    points: int
    conv_weights: tuple[FloatArray, ...]
    """Each (out, in, width), as torch's ``Conv1d`` holds it."""
    conv_biases: tuple[FloatArray, ...]
    pools: tuple[bool, ...]
    """Whether a max-pooling by 2 follows each convolution."""
    weights: tuple[FloatArray, ...]
    """Dense layers, each (in, out)."""
    biases: tuple[FloatArray, ...]

    def logits(self, features: FloatArray) -> FloatArray:
        f = np.atleast_2d(features)[:, self.offset : self.offset + self.points * 3]
        h = track_channels(f.reshape(len(f), self.points, 3)).transpose(0, 2, 1)
        h = h.astype(self.conv_weights[0].dtype, copy=False)
        for w, b, pool in zip(self.conv_weights, self.conv_biases, self.pools, strict=True):
            out, cin, width = w.shape
            n, t = h.shape[:2]
            pad = width // 2
            hp = np.zeros((n, t + width - 1, cin), h.dtype)
            hp[:, pad : pad + t] = h
            # the windows side by side (shift-major, as the weights are reordered)
            cols = np.concatenate([hp[:, k : k + t] for k in range(width)], axis=2)
            h = np.maximum(cols @ w.transpose(2, 1, 0).reshape(width * cin, out) + b, 0.0)
            if pool:
                h = h[:, : t // 2 * 2].reshape(n, t // 2, 2, out).max(axis=2)
        return _dense(_mean_max(h), self.weights, self.biases)


@dataclass(frozen=True, eq=False, slots=True)
class InkNet:
    """One member reading the ink as an image (:func:`ocr.features.render` of the track):
    2-D convolutions ("same" padding, ReLU, batch normalisation folded in, optional
    max-pooling by 2), global mean and max pooling, then dense layers."""

    offset: int
    points: int
    conv_weights: tuple[FloatArray, ...]
    """Each (out, in, height, width), as torch's ``Conv2d`` holds it."""
    conv_biases: tuple[FloatArray, ...]
    pools: tuple[bool, ...]
    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...]

    def logits(self, features: FloatArray) -> FloatArray:
        f = np.atleast_2d(features)[:, self.offset : self.offset + self.points * 3]
        h = render(f.reshape(len(f), self.points, 3))[..., None]  # (n, y, x, channels)
        h = h.astype(self.conv_weights[0].dtype, copy=False)
        for w, b, pool in zip(self.conv_weights, self.conv_biases, self.pools, strict=True):
            out, cin, kh, kw = w.shape
            n, hy, hx = h.shape[:3]
            hp = np.zeros((n, hy + kh - 1, hx + kw - 1, cin), h.dtype)
            hp[:, kh // 2 : kh // 2 + hy, kw // 2 : kw // 2 + hx] = h
            cols = np.concatenate(
                [hp[:, dy : dy + hy, dx : dx + hx] for dy in range(kh) for dx in range(kw)], axis=3
            )
            wm = w.transpose(2, 3, 1, 0).reshape(kh * kw * cin, out)
            h = np.maximum(cols @ wm + b, 0.0)
            if pool:
                h = h[:, : hy // 2 * 2, : hx // 2 * 2]
                h = h.reshape(n, hy // 2, 2, hx // 2, 2, out).max(axis=(2, 4))
        h = h.reshape(len(h), -1, h.shape[-1])
        return _dense(_mean_max(h), self.weights, self.biases)


Member = Mlp | ConvNet | InkNet


@dataclass(frozen=True, eq=False, slots=True)
class Classifier:
    """An ensemble of networks over ``classes`` reading features of ``feature_set``."""

    classes: tuple[str, ...]
    members: tuple[Member, ...]
    temperature: float = 1.0
    """Scores are divided by this before the softmax (fitted on held-out contributors)."""
    feature_set: str = DEFAULT_FEATURES

    def features(self, glyphs: Sequence[Sequence[FloatArray]]) -> FloatArray:
        """The features this model reads, one row per glyph (strokes as (N, 2) arrays); for
        an ensemble of convolutional members only the track (the rest is left zero)."""
        track_only = self.feature_set == "v3" and not any(isinstance(m, Mlp) for m in self.members)
        return batch_features(glyphs, self.feature_set, track_only=track_only)

    def logits(self, features: FloatArray) -> FloatArray:
        """Scores, shape (n, classes), for a (n, features) array: one member's logits,
        or the log of the members' mean probability."""
        if len(self.members) == 1:
            return self.members[0].logits(features)
        mean = np.mean([softmax(m.logits(features)) for m in self.members], axis=0)
        out: FloatArray = np.log(np.maximum(mean, 1e-12))
        return out

    def probabilities(self, features: FloatArray) -> FloatArray:
        """Calibrated class probabilities, shape (n, classes)."""
        return softmax(self.logits(features) / self.temperature)

    def with_temperature(self, temperature: float) -> Classifier:
        return replace(self, temperature=float(temperature))

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "version": np.array(FORMAT_VERSION),
            "classes": np.array(self.classes),
            "feature_set": np.array(self.feature_set),
            "members": np.array(len(self.members)),
            "temperature": np.array(self.temperature),
        }
        for k, m in enumerate(self.members):
            if isinstance(m, ConvNet | InkNet):
                arrays[f"m{k}_kind"] = np.array("conv1d" if isinstance(m, ConvNet) else "ink2d")
                arrays[f"m{k}_offset"] = np.array(m.offset)
                arrays[f"m{k}_points"] = np.array(m.points)
                arrays[f"m{k}_pools"] = np.array(m.pools)
                for i, (w, b) in enumerate(zip(m.conv_weights, m.conv_biases, strict=True)):
                    arrays[f"m{k}_cw{i}"] = w.astype(np.float32)
                    arrays[f"m{k}_cb{i}"] = b.astype(np.float32)
            else:
                arrays[f"m{k}_mean"] = m.mean.astype(np.float32)
                arrays[f"m{k}_std"] = m.std.astype(np.float32)
            for i, (w, b) in enumerate(zip(m.weights, m.biases, strict=True)):
                arrays[f"m{k}_w{i}"] = w.astype(np.float32)
                arrays[f"m{k}_b{i}"] = b.astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path = DIGIT_MODEL) -> Classifier:
        """Read a model file; cached per path."""
        p = Path(path)
        # resolving a path costs system calls on every read: an absolute one is cached as given
        return _load_absolute(p) if p.is_absolute() else _load(p.resolve())


def _member(a: dict[str, FloatArray], prefix: str) -> Member:
    n = sum(1 for k in a if k.startswith(f"{prefix}w"))
    if f"{prefix}kind" in a:
        kind = str(a[f"{prefix}kind"])
        if kind not in ("conv1d", "ink2d"):
            raise ModelFileError(
                f"unknown member kind {kind!r}: rebuild with `python -m ocr.train`"
            )
        c = sum(1 for k in a if k.startswith(f"{prefix}cw"))
        return (ConvNet if kind == "conv1d" else InkNet)(
            offset=int(a[f"{prefix}offset"]),
            points=int(a[f"{prefix}points"]),
            conv_weights=tuple(a[f"{prefix}cw{i}"].astype(np.float32) for i in range(c)),
            conv_biases=tuple(a[f"{prefix}cb{i}"].astype(np.float32) for i in range(c)),
            pools=tuple(bool(p) for p in a[f"{prefix}pools"]),
            weights=tuple(a[f"{prefix}w{i}"].astype(np.float32) for i in range(n)),
            biases=tuple(a[f"{prefix}b{i}"].astype(np.float32) for i in range(n)),
        )
    return Mlp(
        mean=a[f"{prefix}mean"].astype(np.float64),
        std=a[f"{prefix}std"].astype(np.float64),
        weights=tuple(a[f"{prefix}w{i}"].astype(np.float32) for i in range(n)),
        biases=tuple(a[f"{prefix}b{i}"].astype(np.float32) for i in range(n)),
    )


@cache
def _load_absolute(path: Path) -> Classifier:
    return _load(path.resolve())


@cache
def _load(path: Path) -> Classifier:
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ModelFileError(
            f"model file {path} not found; rebuild it with `python -m ocr.train`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"model file {path} is unreadable ({exc}); rebuild it") from None
    version = int(a.get("version", -1))
    if version not in READS:
        raise ModelFileError(
            f"model file {path} has format version {version}; this code reads "
            f"{READS}: rebuild it with `python -m ocr.train`"
        )
    if version == 1:
        members: tuple[Member, ...] = (_member(a, ""),)
        feature_set = "v1"
    else:
        members = tuple(_member(a, f"m{k}_") for k in range(int(a["members"])))
        feature_set = str(a["feature_set"])
    if feature_set not in FEATURE_SETS:
        raise ModelFileError(f"model file {path} needs unknown feature set {feature_set!r}")
    return Classifier(
        classes=tuple(str(c) for c in a["classes"]),
        members=members,
        temperature=float(a["temperature"]),
        feature_set=feature_set,
    )
