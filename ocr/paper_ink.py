"""The pen's own ink of a count field, drawn as it lies on paper and read by the scan reader.

The pen-against-paper rule (``reconciliation.paper``, F.301) asks whether the
paper shows something the pen did not write. When the scan reader reads the
paper as 62 where the pen's value is 82, either the paper was changed or the
reader sees this writer's 8 as a 6. Reading the pen's own strokes with the
same reader tells the two apart: drawn into the field's boxes as the paper
holds them (the pale box fill and outline, ballpoint ink 0.45 mm wide, the
slight blur of a scan) on the reader's 8 px/mm frame, a pen ink that also
reads 62 means the paper shows what the pen wrote, and the difference lies
between the pen's value and its own ink, not between pen and paper. Pure:
strokes in millimetres in, a :class:`~ocr.reading.Reading` out.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from ocr.errors import BadInk
from ocr.model import Classifier
from ocr.reading import Reading
from ocr.scan import PX_PER_MM, read_comb, scan_classifier
from pen.forms.model import Rect
from pen.forms.render import BOX_COLOUR, BOX_FILL, INK_COLOUR

Image = npt.NDArray[np.uint8]
#: Width of ballpoint ink on paper (as ``hardware_sim.paper`` prints it).
INK_MM = 0.45
#: Width of the printed box outline (``pen.forms.render``).
BOX_LINE_MM = 0.25
#: Blur of the drawn page (pixels at :data:`PX_PER_MM`): a scanner's optics, mid-range.
BLUR_PX = 0.6
#: Paper drawn around the field's boxes.
MARGIN_MM = 1.0
_SHIFT = 4  # sub-pixel bits for OpenCV drawing


def _gray(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def draw_field(strokes: Sequence[object], boxes: Sequence[Rect]) -> tuple[Image, list[Rect]]:
    """The field's boxes with ``strokes`` ((N, >= 2) arrays of x_mm, y_mm) drawn in them,
    as a grayscale page at :data:`PX_PER_MM`, and the boxes in that page's millimetres.

    Raises :class:`~ocr.errors.BadInk` for a stroke that is not a finite (N, 2+) array.
    """
    x0 = min(b.x for b in boxes) - MARGIN_MM
    y0 = min(b.y for b in boxes) - MARGIN_MM
    x1 = max(b.right for b in boxes) + MARGIN_MM
    y1 = max(b.bottom for b in boxes) + MARGIN_MM
    k, f = PX_PER_MM, 1 << _SHIFT
    img = np.full((round((y1 - y0) * k), round((x1 - x0) * k)), 255.0, np.float32)

    def p(x: float, y: float) -> tuple[int, int]:
        return (round((x - x0) * k * f), round((y - y0) * k * f))

    line = max(1, round(BOX_LINE_MM * k))
    for b in boxes:
        img[round((b.y - y0) * k) : round((b.bottom - y0) * k),
            round((b.x - x0) * k) : round((b.right - x0) * k)] = _gray(BOX_FILL)  # fmt: skip
        cv2.rectangle(
            img, p(b.x, b.y), p(b.right, b.bottom), _gray(BOX_COLOUR), line, cv2.LINE_AA, _SHIFT
        )
    width = max(1, round(INK_MM * k))
    for i, s in enumerate(strokes):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInk(f"stroke {i} is not numeric; give (N, 2+) arrays of x_mm, y_mm") from None
        if a.ndim != 2 or a.shape[1] < 2 or not np.isfinite(a[:, :2]).all():
            raise BadInk(f"stroke {i} must be a finite (N, 2+) array of x_mm, y_mm; got {a.shape}")
        if len(a) == 0:
            continue
        pts = np.array([p(x, y) for x, y in a[:, :2]], np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, _gray(INK_COLOUR), width, cv2.LINE_AA, _SHIFT)
    page = cv2.GaussianBlur(img, (0, 0), BLUR_PX)
    local = [Rect(b.x - x0, b.y - y0, b.width, b.height) for b in boxes]
    return np.clip(page, 0, 255).astype(np.uint8), local


def read_pen_ink(
    strokes: Sequence[object], boxes: Sequence[Rect], model: Classifier | None = None
) -> Reading:
    """What the scan reader reads in a count field's pen ink, drawn as on paper."""
    page, local = draw_field(strokes, boxes)
    return read_comb(page, local, model or scan_classifier())
