"""Drawing a form as a one-page PDF for printing, with reportlab.

Returns bytes: :mod:`pen` writes no files. Text uses the PDF standard
Helvetica fonts (see :mod:`pen.forms.metrics`), so no font is embedded.
"""

from __future__ import annotations

from io import BytesIO

from reportlab.lib.colors import HexColor
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from pen.forms.metrics import font_name
from pen.forms.model import FormLayout
from pen.forms.render import (
    CircleShape,
    LineShape,
    RectShape,
    Shape,
    TextShape,
    drawing,
)
from pen.ink import Ink


def _draw(c: Canvas, shape: Shape, height: float) -> None:
    # PDF's origin is the bottom-left corner with y up; the layout's is top-left with y down.
    if isinstance(shape, RectShape):
        if shape.fill:
            c.setFillColor(HexColor(shape.fill))
        if shape.stroke:
            c.setStrokeColor(HexColor(shape.stroke))
            c.setLineWidth(shape.line_width * mm)
        c.rect(
            shape.x * mm,
            (height - shape.y - shape.height) * mm,
            shape.width * mm,
            shape.height * mm,
            stroke=int(shape.stroke is not None),
            fill=int(shape.fill is not None),
        )
    elif isinstance(shape, CircleShape):
        c.setFillColor(HexColor(shape.fill))
        c.circle(shape.cx * mm, (height - shape.cy) * mm, shape.r * mm, stroke=0, fill=1)
    elif isinstance(shape, LineShape):
        c.setStrokeColor(HexColor(shape.colour))
        c.setLineWidth(shape.width * mm)
        c.line(shape.x1 * mm, (height - shape.y1) * mm, shape.x2 * mm, (height - shape.y2) * mm)
    elif isinstance(shape, TextShape):
        c.setFillColor(HexColor(shape.colour))
        c.setFont(font_name(shape.bold), shape.size_pt)
        x, y = shape.x * mm, (height - shape.y) * mm
        if shape.anchor == "middle":
            c.drawCentredString(x, y, shape.text)
        elif shape.anchor == "end":
            c.drawRightString(x, y, shape.text)
        else:
            c.drawString(x, y, shape.text)
    else:
        c.setStrokeColor(HexColor(shape.colour))
        c.setLineWidth(shape.width * mm)
        c.setLineCap(1)
        c.setLineJoin(1)
        path = c.beginPath()
        (x0, y0), *rest = shape.points
        path.moveTo(x0 * mm, (height - y0) * mm)
        for x, y in rest:
            path.lineTo(x * mm, (height - y) * mm)
        c.drawPath(path, stroke=1, fill=0)


def render_pdf(
    layout: FormLayout, *, station_id: str | None = None, ink: Ink | None = None
) -> bytes:
    """The form as a one-page PDF at its printed size."""
    out = BytesIO()
    c = Canvas(out, pagesize=(layout.page_width * mm, layout.page_height * mm), invariant=True)
    c.setTitle(f"{layout.title} ({layout.name})")
    c.setAuthor("Plume")
    for shape in drawing(layout, station_id=station_id, ink=ink):
        _draw(c, shape, layout.page_height)
    c.showPage()
    c.save()
    return out.getvalue()
