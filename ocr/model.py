"""The character classifier: a small multilayer perceptron evaluated in numpy.

Weights, feature standardisation and the calibration temperature live in one
``.npz`` file (format :data:`FORMAT_VERSION`) written by :mod:`ocr.train`;
nothing is loaded until :meth:`Classifier.load` is called. Inference needs
numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ocr.errors import ModelFileError

FloatArray = npt.NDArray[np.float64]

#: Model file versions this module reads.
FORMAT_VERSION = 1
#: The digit model shipped in the repository.
DIGIT_MODEL = Path(__file__).resolve().parent / "models" / "digits.npz"


def softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


@dataclass(frozen=True, eq=False, slots=True)
class Classifier:
    """A trained MLP: ReLU hidden layers, linear output over ``classes``."""

    classes: tuple[str, ...]
    mean: FloatArray
    std: FloatArray
    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...]
    temperature: float = 1.0
    """Logits are divided by this before the softmax (fitted on held-out contributors)."""

    def logits(self, features: FloatArray) -> FloatArray:
        """Raw scores, shape (n, classes), for a (n, features) array."""
        h = (np.atleast_2d(features) - self.mean) / self.std
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0)
        return h

    def probabilities(self, features: FloatArray) -> FloatArray:
        """Calibrated class probabilities, shape (n, classes)."""
        return softmax(self.logits(features) / self.temperature)

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "version": np.array(FORMAT_VERSION),
            "classes": np.array(self.classes),
            "mean": self.mean.astype(np.float32),
            "std": self.std.astype(np.float32),
            "temperature": np.array(self.temperature),
        }
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"] = w.astype(np.float32)
            arrays[f"b{i}"] = b.astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path = DIGIT_MODEL) -> Classifier:
        """Read a model file; cached per path."""
        return _load(Path(path).resolve())


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
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"model file {path} has format version {version}; this code reads "
            f"{FORMAT_VERSION}: rebuild it with `python -m ocr.train`"
        )
    n = sum(1 for k in a if k.startswith("w"))
    return Classifier(
        classes=tuple(str(c) for c in a["classes"]),
        mean=a["mean"].astype(np.float64),
        std=a["std"].astype(np.float64),
        weights=tuple(a[f"w{i}"].astype(np.float64) for i in range(n)),
        biases=tuple(a[f"b{i}"].astype(np.float64) for i in range(n)),
        temperature=float(a["temperature"]),
    )
