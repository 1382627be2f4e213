"""What a printed form looks like, as a list of drawing primitives in millimetres.

:func:`drawing` turns a layout (with the station identifier and, optionally,
ink to overlay) into primitives; :mod:`pen.forms.render_svg` and
:mod:`pen.forms.render_pdf` draw the same primitives, so the SVG and the PDF
of a form always agree. Boxes are printed in a pale blue (the non-carbon
"layout ink" of dot-pattern forms, which the pen's camera does not see);
text, registration marks and the QR code in black.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

from pen.errors import FormError
from pen.forms import metrics
from pen.forms.model import FormLayout, Label
from pen.ink import Ink

BOX_COLOUR = "#7FA7D6"
BOX_FILL = "#F4F8FD"
TEXT_COLOUR = "#141414"
MUTED_COLOUR = "#666666"
INK_COLOUR = "#1B2F8A"


@dataclass(frozen=True, slots=True)
class RectShape:
    x: float
    y: float
    width: float
    height: float
    stroke: str | None = None
    fill: str | None = None
    line_width: float = 0.25


@dataclass(frozen=True, slots=True)
class CircleShape:
    cx: float
    cy: float
    r: float
    fill: str


@dataclass(frozen=True, slots=True)
class LineShape:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    colour: str


@dataclass(frozen=True, slots=True)
class TextShape:
    """One run of text; ``y`` is the baseline, ``x`` the point given by ``anchor``."""

    x: float
    y: float
    text: str
    size_pt: float
    bold: bool = False
    colour: str = TEXT_COLOUR
    anchor: str = "start"


@dataclass(frozen=True, slots=True)
class PolylineShape:
    points: tuple[tuple[float, float], ...]
    width: float
    colour: str


Shape = RectShape | CircleShape | LineShape | TextShape | PolylineShape


def qr_modules(text: str) -> list[list[bool]]:
    """The dark (True) and light modules of the QR code of ``text``, rows top to bottom."""
    code = segno.make(text, error="m", micro=False)
    return [[bool(v) for v in row] for row in code.matrix]


#: Longest station identifier printed on a form.
MAX_STATION_ID = 32


def station_label(layout: FormLayout, station_id: str) -> Label:
    """The printed text of the station identifier; :class:`FormError` if it cannot be printed.

    Checked: the form has a place for it, it is 1 to :data:`MAX_STATION_ID`
    characters the PDF fonts can print, and the text stays on the page.
    """
    region = layout.station
    if region is None:
        raise FormError(f"form {layout.name} has no place for a station identifier; omit it")
    if not station_id.strip() or len(station_id) > MAX_STATION_ID:
        raise FormError(
            f"station identifier {station_id!r} must be 1 to {MAX_STATION_ID} characters"
        )
    if not metrics.printable(station_id):
        raise FormError(
            f"station identifier {station_id!r} uses "
            f"{metrics.unprintable_chars(station_id)!r}, which the PDF fonts cannot print"
        )
    label = Label(f"Bureau {station_id}", region.text_x, region.text_y, region.text_size_pt, True)
    if not label.extent().within(layout.page_width, layout.page_height):
        raise FormError(
            f"station identifier {station_id!r} is too long to print on form {layout.name}"
        )
    return label


def drawing(
    layout: FormLayout, *, station_id: str | None = None, ink: Ink | None = None
) -> list[Shape]:
    """Everything printed on the form, in drawing order (ink last).

    Raises :class:`FormError` for a station identifier that cannot be printed
    (see :func:`station_label`).
    """
    station = None if station_id is None else station_label(layout, station_id)
    shapes: list[Shape] = []
    for box in layout.boxes:
        r = box.rect
        shapes.append(RectShape(r.x, r.y, r.width, r.height, BOX_COLOUR, BOX_FILL))
    for rule in layout.rules:
        shapes.append(LineShape(rule.x1, rule.y1, rule.x2, rule.y2, rule.width, TEXT_COLOUR))
    for mark in layout.marks:
        if mark.shape == "circle":
            shapes.append(CircleShape(mark.cx, mark.cy, mark.size / 2, TEXT_COLOUR))
        else:
            m = mark.rect
            shapes.append(RectShape(m.x, m.y, m.width, m.height, None, TEXT_COLOUR, 0.0))
    for label in layout.labels:
        colour = MUTED_COLOUR if label.muted else TEXT_COLOUR
        shapes.append(
            TextShape(label.x, label.y, label.text, label.size_pt, label.bold, colour, label.anchor)
        )
    for block in layout.text_blocks:
        for line in block.lines():
            for run in line.runs:
                shapes.append(
                    TextShape(
                        block.x + run.dx, block.y + line.dy, run.text, block.size_pt, run.bold
                    )
                )
    if layout.station is not None and station is not None and station_id is not None:
        qr = layout.station.qr
        modules = qr_modules(station_id)
        side = min(qr.width, qr.height) / len(modules)
        for row, values in enumerate(modules):
            for col, dark in enumerate(values):
                if dark:
                    x, y = qr.x + col * side, qr.y + row * side
                    shapes.append(RectShape(x, y, side, side, None, TEXT_COLOUR, 0.0))
        shapes.append(TextShape(station.x, station.y, station.text, station.size_pt, station.bold))
    if ink is not None:
        for stroke in ink:
            pts = tuple((float(x), float(y)) for x, y in stroke.points[:, :2])
            if len(pts) == 1:
                pts = (pts[0], pts[0])
            shapes.append(PolylineShape(pts, 0.35, INK_COLOUR))
    return shapes
