"""Reading ink and scanned images: online recognition of pen strokes per field
kind and offline reading of scanned minutes, with calibrated confidences.
Pure: depends only on pen. (Built under issue 6.)

    from ocr import read
    reading = read(strokes, "count")   # strokes: list of (N, 3) x_mm, y_mm (down), t_ms
    reading = read(strokes, "upper", boxes=[(x, y, w, h), ...])   # a whole comb field

Kinds: ``digit``, ``upper``, ``lower``, ``email_char`` (one character, or a
whole comb when ``boxes`` gives its cells), ``count``, ``postcode``,
``phone``, ``email``, ``name`` (whole fields) and ``checkbox``.

A scanned paper form (``ocr.scan``): ``read_scan(image, layout)`` registers
the page on its printed marks and reads every count field, each as a
``ScannedField(reading, crop)``; ``register(image, layout)`` alone gives the
homography from page millimetres to image pixels (on the printed marks, or
on the printed form's features when the marks are damaged);
``read_page(image, layout, expected_station=...)`` adds the registration and
the station id printed on the sheet (QR code, else text) as a ``ScannedPage``.
``read_pen_ink(strokes, boxes)`` reads a count field's pen ink with the same reader,
drawn as it lies on paper (so the pen-against-paper rule can tell a changed paper
from a digit the reader sees otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr.chars import Box, read_char
from ocr.checkbox import read_checkbox
from ocr.errors import (
    BadBoxes,
    BadInk,
    BadScan,
    FormNotFound,
    OcrError,
    ScanError,
    StationIdMismatch,
    StationIdUnreadable,
    UnknownEngine,
    UnsupportedKind,
)
from ocr.features import FloatArray
from ocr.fields import CELL_KIND, read_comb
from ocr.model import Classifier
from ocr.online import read_count
from ocr.overwriting import assess, flagged
from ocr.paper_ink import read_pen_ink
from ocr.reading import Reading
from ocr.scan import Registration, ScannedField, read_scan, register
from ocr.scan_id import StationId
from ocr.scan_page import ScannedPage, read_page

__all__ = [
    "ENGINES",
    "KINDS",
    "SUPPORTED",
    "BadScan",
    "FormNotFound",
    "OcrError",
    "Reading",
    "Registration",
    "ScanError",
    "ScannedField",
    "ScannedPage",
    "StationId",
    "StationIdMismatch",
    "StationIdUnreadable",
    "UnsupportedKind",
    "read",
    "read_page",
    "read_pen_ink",
    "read_scan",
    "register",
]

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
SUPPORTED = KINDS
#: One character per box; a comb of them when ``boxes`` holds more than one cell.
CHAR_KINDS = ("digit", "upper", "lower", "email_char")
#: Recognition engines: ours, and Tesseract on rendered ink as the named baseline.
ENGINES = ("plume", "tesseract")
#: Kinds whose ink is checked for scribbles and crossings-out (:mod:`ocr.overwriting`).
OVERWRITTEN_KINDS = ("digit", "count", "postcode", "phone", "checkbox")
#: Kinds the Tesseract baseline reads.
TESSERACT_KINDS = ("digit", "count")

_EMPTY = Reading("", 1.0, (("", 1.0),))


def read(
    strokes: Sequence[object],
    kind: str,
    *,
    engine: str = "plume",
    boxes: Sequence[Sequence[float]] | None = None,
    words: Sequence[str] = (),
) -> Reading:
    """Read the ink of one field.

    ``strokes``: (N, 3) float arrays of x_mm, y_mm (y down), t_ms; extra columns
    (force) are ignored. ``boxes``: optional cell rectangles (x, y, width,
    height in mm) of the field, in writing order: a comb field is then cut by
    its boxes rather than by the gaps in the ink, and a one-character box uses
    its rectangle to tell ``.``, ``-`` and ``_`` apart. Returns the best text,
    its calibrated confidence and ranked alternatives. Empty ink reads as ""
    with confidence 1 (a checkbox: not ticked). Digit fields, counts and
    checkboxes that are scribbled over or crossed out (:mod:`ocr.overwriting`)
    keep at most 0.2 of confidence and say so in ``flags``. ``words``: for e-mail
    fields, names the address is likely made of besides the frequent French names
    the decoder knows (the names written on the same form, say); other kinds ignore
    them.
    """
    if engine not in ENGINES:
        raise UnknownEngine(engine, ENGINES)
    if kind not in SUPPORTED:
        raise UnsupportedKind(kind, SUPPORTED)
    if engine == "tesseract" and kind not in TESSERACT_KINDS:
        raise UnsupportedKind(kind, TESSERACT_KINDS)
    ink = _checked(strokes)
    cells = _checked_boxes(boxes)
    if not ink:
        return _EMPTY
    if engine == "tesseract":
        from ocr import _tesseract

        return _tesseract.read(ink, kind)
    reading = _read_plume(ink, kind, cells, tuple(str(w) for w in words))
    if kind in OVERWRITTEN_KINDS:
        reading = flagged(reading, assess(ink, "checkbox" if kind == "checkbox" else "digit"))
    return reading


def _read_plume(
    ink: list[FloatArray], kind: str, cells: list[Box] | None, words: tuple[str, ...] = ()
) -> Reading:
    if kind == "checkbox":
        return read_checkbox(ink)
    if kind == "count":
        return read_count(ink, Classifier.load())
    if kind in CHAR_KINDS and (cells is None or len(cells) == 1):
        return read_char(ink, kind, cells[0] if cells else None)
    if kind in CELL_KIND:
        return read_comb(ink, kind, cells, words=words)
    raise UnsupportedKind(kind, SUPPORTED)  # pragma: no cover - KINDS are all handled


def _checked(strokes: Sequence[object]) -> list[FloatArray]:
    """Strokes as (N, 3) float arrays in writing order; empty strokes dropped."""
    out = []
    for i, s in enumerate(strokes):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInk(
                f"stroke {i} is not numeric; give (N, 3) arrays of x_mm, y_mm, t_ms"
            ) from None
        if a.ndim != 2 or a.shape[1] < 3:
            raise BadInk(f"stroke {i} must be an (N, 3) array of x_mm, y_mm, t_ms; got {a.shape}")
        if len(a) == 0:
            continue
        if not np.isfinite(a[:, :3]).all():
            raise BadInk(f"stroke {i} has a non-finite coordinate; drop or repair the stroke")
        out.append(a[:, :3])
    out.sort(key=lambda a: float(a[0, 2]))
    return out


def _checked_boxes(boxes: Sequence[Sequence[float]] | None) -> list[Box] | None:
    """Box rectangles as (x, y, width, height) tuples of finite floats, sizes positive."""
    if boxes is None:
        return None
    try:
        rects = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadBoxes("boxes must be a list of (x, y, width, height) rectangles in mm") from None
    if rects.ndim != 2 or rects.shape[1] != 4 or len(rects) == 0:
        raise BadBoxes(
            f"boxes must be a non-empty (n, 4) list of x, y, width, height; got {rects.shape}"
        )
    if not np.isfinite(rects).all() or (rects[:, 2:] <= 0).any():
        raise BadBoxes("every box needs finite coordinates and a positive width and height")
    return [(float(a), float(b), float(c), float(d)) for a, b, c, d in rects]
