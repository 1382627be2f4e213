"""The station identifier printed on a scanned sheet: its QR code, else its printed text.

Every PV sheet is printed for one station (``pen.forms.render``): a QR code
of the station id in ``layout.station.qr`` and the text ``Bureau <id>`` at
``layout.station.text_x/text_y``. :func:`read_station_id` reads them from a
registered scan:

1. **QR code** (``cv2.QRCodeDetector``, then OpenCV's ArUco-based detector)
   on the code's corner of the page resampled at 8 and 12 px/mm, plain and
   binarised (Otsu). A decoded QR code has passed its Reed-Solomon error
   correction (level M: about 15% of the code may be damaged), so a misread
   needs more damage than it can correct landing exactly on another valid
   code: its confidence is :data:`QR_CONFIDENCE`.
2. **Printed text**, when no QR code decodes: the line ``Bureau <id>``
   resampled at 24 px/mm and read by Tesseract (one line, ``--psm 7``, no
   whitelist: with one, it ran the words together and read nothing); the
   id is what follows ``Bureau``, its confidence Tesseract's own for those
   words (not calibrated). Only an id of the station-id shape
   (:data:`ID_SHAPE`, ``<insee>-<nnnn>``) read with at least
   :data:`MIN_TEXT_CONFIDENCE` counts: a line partly blotted out reads as a
   shorter id, confidently, and was taken for another station's.

The result says how the id was read and with what confidence, and carries a
typed problem when the id cannot be read (:class:`StationIdUnreadable`,
OCR.403) or differs from the station the caller expected
(:class:`StationIdMismatch`, OCR.404: a sheet swapped between stations, a
scan filed under the wrong station). Problems are returned, not raised, so
the fields read from the same sheet are not lost; ``raise page.station_id.problem``
when the id must be right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import cv2
import numpy as np
import numpy.typing as npt

from ocr.errors import EngineUnavailable, ScanError, StationIdMismatch, StationIdUnreadable
from pen.forms.model import FormLayout, Rect
from pen.forms.render import station_label

Image = npt.NDArray[np.uint8]
#: Confidence given to an id decoded from the QR code (Reed-Solomon checked).
QR_CONFIDENCE = 0.999
#: Quiet zone (mm) cut around the QR code.
QR_MARGIN_MM = 4.0
#: Resolution the printed text is resampled to for Tesseract (8 pt text: ~50 px caps).
TEXT_PX_PER_MM = 24.0
#: Least confidence for an id read from the printed text (below: garbage, unread).
MIN_TEXT_CONFIDENCE = 0.3
#: What a station id looks like (``<insee>-<nnnn>``, INSEE codes of Corsica have 2A/2B;
#: ids of another shape are read from the QR code only).
ID_SHAPE = re.compile(r"[0-9][0-9AB][0-9]{3}[-_][0-9]{4}")


@dataclass(frozen=True, slots=True)
class StationId:
    """The station identifier read from a scanned sheet, how, and what is wrong with it."""

    text: str
    """The id read ("" when none could be read)."""
    method: str
    """``qr`` (the QR code), ``text`` (the printed line, Tesseract) or ``none``."""
    confidence: float
    """How sure the reading is: :data:`QR_CONFIDENCE` for a QR code, Tesseract's own
    (uncalibrated) confidence for the text, 0 when unread."""
    expected: str | None = None
    """The station the caller expected, if given."""
    problem: ScanError | None = None
    """:class:`StationIdUnreadable` or :class:`StationIdMismatch`, else None."""

    @property
    def agrees(self) -> bool | None:
        """Whether the id read is the expected one (None: nothing expected or nothing read)."""
        if self.expected is None or not self.text:
            return None
        return self.text == self.expected


def warp_region(
    gray: Image, homography: npt.NDArray[np.float64], rect: Rect, px_per_mm: float
) -> Image:
    """The part ``rect`` (page mm) of a scan resampled upright at ``px_per_mm``."""
    k = px_per_mm
    frame = np.array([[1 / k, 0, rect.x], [0, 1 / k, rect.y], [0, 0, 1.0]])
    size = (max(1, round(rect.width * k)), max(1, round(rect.height * k)))
    out = cv2.warpPerspective(
        gray,
        homography @ frame,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderValue=255,
    )
    return np.asarray(out, np.uint8)


def _qr_detectors() -> list[cv2.QRCodeDetector | cv2.QRCodeDetectorAruco]:
    out: list[cv2.QRCodeDetector | cv2.QRCodeDetectorAruco] = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        out.append(cv2.QRCodeDetectorAruco())
    return out


def read_qr(flat: Image, homography: npt.NDArray[np.float64], layout: FormLayout) -> str:
    """The text of the station QR code of a registered scan, or "" if none decodes."""
    if layout.station is None:
        return ""
    q, m = layout.station.qr, QR_MARGIN_MM
    rect = Rect(q.x - m, q.y - m, q.width + 2 * m, q.height + 2 * m)
    for k in (8.0, 12.0):
        crop = warp_region(flat, homography, rect, k)
        _, otsu = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        for img in (crop, np.asarray(otsu, np.uint8)):
            for detector in _qr_detectors():
                try:
                    text, _points, _ = detector.detectAndDecode(img)
                except cv2.error:
                    continue
                if text:
                    return str(text)
    return ""


def read_printed_id(
    flat: Image, homography: npt.NDArray[np.float64], layout: FormLayout
) -> tuple[str, float]:
    """The id in the printed ``Bureau <id>`` line (Tesseract) and its confidence, or ("", 0).

    Raises :class:`~ocr.errors.EngineUnavailable` when Tesseract is not installed.
    """
    from ocr import _tesseract

    if layout.station is None:
        return "", 0.0
    st = layout.station
    cap = st.text_size_pt * 0.3528  # point -> mm
    top = max(st.text_y - 1.6 * cap, st.qr.bottom + 0.5)  # below the QR code
    rect = Rect(st.text_x - 1.5, top, layout.page_width - st.text_x, st.text_y + cap - top)
    crop = warp_region(flat, homography, rect, TEXT_PX_PER_MM)
    pad = round(TEXT_PX_PER_MM)
    crop = np.asarray(
        cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255), np.uint8
    )
    words = _tesseract.run_images([crop], 7, False)[0]
    # The printed line is "Bureau <id>": without a first word like "Bureau" and a
    # second one, what Tesseract saw is not the line (a remnant, a blot's edge).
    prefix = station_label(layout, "0").text[:-1].strip().lower()
    if len(words) < 2 or SequenceMatcher(None, words[0][0].lower(), prefix).ratio() < 0.6:
        return "", 0.0
    words = words[1:]
    text = "".join(w for w, _ in words).strip()
    conf = min(c for _, c in words)
    if not ID_SHAPE.fullmatch(text) or conf < MIN_TEXT_CONFIDENCE:
        return "", 0.0  # a truncated or garbled id is no reading (the bench: 12 of 30 wrong)
    return text, conf


def read_station_id(
    flat: Image,
    homography: npt.NDArray[np.float64],
    layout: FormLayout,
    *,
    expected: str | None = None,
    text_fallback: bool = True,
) -> StationId:
    """The station id of a registered scan (``flat``: light-flattened, see
    :func:`ocr.scan.flatten_light`): QR code first, the printed text second."""
    text, method, conf = read_qr(flat, homography, layout), "qr", QR_CONFIDENCE
    why = "its QR code does not decode"
    if not text and text_fallback:
        try:
            text, conf = read_printed_id(flat, homography, layout)
            method = "text"
        except EngineUnavailable as e:
            why += f" and its printed text cannot be read ({e.message})"
        else:
            why += " and Tesseract reads no id in its printed text"
    if not text:
        problem: ScanError = StationIdUnreadable(
            f"the station identifier printed on this sheet cannot be read: {why}; "
            "read it on the sheet and enter it by hand"
        )
        return StationId("", "none", 0.0, expected, problem)
    if expected is not None and text != expected:
        mismatch = StationIdMismatch(text, expected, method, conf)
        return StationId(text, method, conf, expected, mismatch)
    return StationId(text, method, conf, expected)
