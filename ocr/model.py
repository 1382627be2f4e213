"""The character classifier: an ensemble of small multilayer perceptrons in numpy.

Each member maps the glyph features to class scores; the ensemble's score is
the log of the members' mean probability, so members that disagree lower the
confidence. Weights, feature standardisation, the feature set and the
calibration temperature live in one ``.npz`` file (format
:data:`FORMAT_VERSION`; version 1, one member on feature set ``v1``, is still
read) written by :mod:`ocr.train`; nothing is loaded until
:meth:`Classifier.load` is called. Inference needs numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ocr.errors import ModelFileError
from ocr.features import DEFAULT_FEATURES, FEATURE_SETS, batch_features

FloatArray = npt.NDArray[np.float64]

#: Model file version this module writes; it reads this one and :data:`READS`.
FORMAT_VERSION = 2
#: Model file versions this module reads.
READS = (1, 2)
#: The digit model shipped in the repository.
DIGIT_MODEL = Path(__file__).resolve().parent / "models" / "digits.npz"


def softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


@dataclass(frozen=True, eq=False, slots=True)
class Mlp:
    """One member: standardisation, ReLU hidden layers, linear output."""

    mean: FloatArray
    std: FloatArray
    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...]

    def logits(self, features: FloatArray) -> FloatArray:
        h = (np.atleast_2d(features) - self.mean) / self.std
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0)
        return h


@dataclass(frozen=True, eq=False, slots=True)
class Classifier:
    """An ensemble of MLPs over ``classes`` reading features of ``feature_set``."""

    classes: tuple[str, ...]
    members: tuple[Mlp, ...]
    temperature: float = 1.0
    """Scores are divided by this before the softmax (fitted on held-out contributors)."""
    feature_set: str = DEFAULT_FEATURES

    def features(self, glyphs: Sequence[Sequence[FloatArray]]) -> FloatArray:
        """The features this model reads, one row per glyph (strokes as (N, 2) arrays)."""
        return batch_features(glyphs, self.feature_set)

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
        return _load(Path(path).resolve())


def _member(a: dict[str, FloatArray], prefix: str) -> Mlp:
    n = sum(1 for k in a if k.startswith(f"{prefix}w"))
    return Mlp(
        mean=a[f"{prefix}mean"].astype(np.float64),
        std=a[f"{prefix}std"].astype(np.float64),
        weights=tuple(a[f"{prefix}w{i}"].astype(np.float64) for i in range(n)),
        biases=tuple(a[f"{prefix}b{i}"].astype(np.float64) for i in range(n)),
    )


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
        members: tuple[Mlp, ...] = (_member(a, ""),)
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
