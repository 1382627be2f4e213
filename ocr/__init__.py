"""Reading ink and scanned images: online recognition of pen strokes per field
kind and offline reading of scanned minutes, with calibrated confidences.
Pure: depends only on pen. (Built under issue 6.)

    from ocr import read
    reading = read(strokes, "count")   # strokes: list of (N, 3) x_mm, y_mm (down), t_ms

Kinds read now: ``digit`` and ``count``. The others of the contract raise
:class:`UnsupportedKind`; send such fields to a person.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr.errors import BadInk, OcrError, UnknownEngine, UnsupportedKind
from ocr.features import FloatArray
from ocr.model import Classifier
from ocr.online import read_count, read_digit
from ocr.reading import Reading

__all__ = ["ENGINES", "KINDS", "SUPPORTED", "OcrError", "Reading", "UnsupportedKind", "read"]

#: Field kinds of the recognition contract (../shared/DESIGN.md).
KINDS = (
    "digit",
    "count",
    "upper",
    "lower",
    "email_char",
    "postcode",
    "phone",
    "email",
    "name",
    "checkbox",
)
#: Kinds this version reads.
SUPPORTED = ("digit", "count")
#: Recognition engines: ours, and Tesseract on rendered ink as the named baseline.
ENGINES = ("plume", "tesseract")

_EMPTY = Reading("", 1.0, (("", 1.0),))


def read(strokes: Sequence[object], kind: str, *, engine: str = "plume") -> Reading:
    """Read the ink of one field.

    ``strokes``: (N, 3) float arrays of x_mm, y_mm (y down), t_ms; extra columns
    (force) are ignored. Returns the best text, its calibrated confidence and
    ranked alternatives. Empty ink reads as "" with confidence 1.
    """
    if engine not in ENGINES:
        raise UnknownEngine(engine, ENGINES)
    if kind not in SUPPORTED:
        raise UnsupportedKind(kind, SUPPORTED)
    ink = _checked(strokes)
    if not ink:
        return _EMPTY
    if engine == "tesseract":
        from ocr import _tesseract

        return _tesseract.read(ink, kind)
    model = Classifier.load()
    return read_digit(ink, model) if kind == "digit" else read_count(ink, model)


def _checked(strokes: Sequence[object]) -> list[FloatArray]:
    """Strokes as (N, 3) float arrays in writing order; empty strokes dropped."""
    out = []
    for i, s in enumerate(strokes):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] < 3:
            raise BadInk(f"stroke {i} must be an (N, 3) array of x_mm, y_mm, t_ms; got {a.shape}")
        if len(a) == 0:
            continue
        if not np.isfinite(a[:, :3]).all():
            raise BadInk(f"stroke {i} has a non-finite coordinate; drop or repair the stroke")
        out.append(a[:, :3])
    out.sort(key=lambda a: float(a[0, 2]))
    return out
