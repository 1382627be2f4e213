"""A whole scanned sheet: its registration, its fields and the station id printed on it.

:func:`read_page` is :func:`ocr.scan.read_scan` plus what the sheet says
about itself: how it was registered (on its marks, or on its printed
features when the marks are damaged) and the station identifier printed on
it (:mod:`ocr.scan_id`: the QR code, else the printed text), checked against
the station the caller expected. ``read_scan`` and ``register`` are
unchanged for their callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ocr.scan import Registration, ScannedField, as_gray, flatten_light, read_scan, register
from ocr.scan_id import StationId, read_station_id
from pen.forms.model import FormLayout


@dataclass(frozen=True, slots=True)
class ScannedPage:
    """Everything read from one scanned sheet."""

    fields: Mapping[str, ScannedField]
    """Each field of the kinds asked for, as :func:`ocr.scan.read_scan` reads it."""
    registration: Registration
    station_id: StationId
    """The printed station id, how it was read, and its problem (OCR.403/404) if any."""


def read_page(
    image: object,
    layout: FormLayout,
    *,
    expected_station: str | None = None,
    kinds: tuple[str, ...] = ("count",),
    text_fallback: bool = True,
) -> ScannedPage:
    """Read a scanned sheet of ``layout``: fields, registration and printed station id.

    Raises what :func:`ocr.scan.read_scan` raises (:class:`~ocr.errors.BadScan`,
    :class:`~ocr.errors.FormNotFound`); a station id that cannot be read or is
    not ``expected_station`` is a ``problem`` of :attr:`ScannedPage.station_id`,
    not an exception. ``text_fallback=False`` skips Tesseract on the printed id.
    """
    gray = as_gray(image)
    fields = read_scan(gray, layout, kinds=kinds)
    reg = register(gray, layout)  # read_scan's own, again (it keeps its signature)
    station = read_station_id(
        flatten_light(gray),
        reg.homography,
        layout,
        expected=expected_station,
        text_fallback=text_fallback,
    )
    return ScannedPage(fields, reg, station)
