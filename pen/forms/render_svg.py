"""Drawing a form as SVG (one mm per user unit, A4 at its printed size)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from pen.forms.metrics import PT_MM, font_name
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


def _n(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _shape(shape: Shape) -> str:
    if isinstance(shape, RectShape):
        stroke = (
            f' stroke="{shape.stroke}" stroke-width="{_n(shape.line_width)}"'
            if shape.stroke
            else ""
        )
        return (
            f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.width)}" '
            f'height="{_n(shape.height)}" fill="{shape.fill or "none"}"{stroke}/>'
        )
    if isinstance(shape, CircleShape):
        return (
            f'<circle cx="{_n(shape.cx)}" cy="{_n(shape.cy)}" r="{_n(shape.r)}" '
            f'fill="{shape.fill}"/>'
        )
    if isinstance(shape, LineShape):
        return (
            f'<line x1="{_n(shape.x1)}" y1="{_n(shape.y1)}" '
            f'x2="{_n(shape.x2)}" y2="{_n(shape.y2)}" '
            f'stroke="{shape.colour}" stroke-width="{_n(shape.width)}"/>'
        )
    if isinstance(shape, TextShape):
        weight = ' font-weight="bold"' if shape.bold else ""
        family = quoteattr(f"{font_name(False)}, Arial, sans-serif")
        return (
            f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" font-family={family} '
            f'font-size="{_n(shape.size_pt * PT_MM)}" fill="{shape.colour}" '
            f'text-anchor="{shape.anchor}"{weight}>{escape(shape.text)}</text>'
        )
    points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.points)
    return (
        f'<polyline points="{points}" fill="none" stroke="{shape.colour}" '
        f'stroke-width="{_n(shape.width)}" stroke-linecap="round" stroke-linejoin="round"/>'
    )


def render_svg(layout: FormLayout, *, station_id: str | None = None, ink: Ink | None = None) -> str:
    """The form as a standalone SVG document, printed size in mm."""
    w, h = _n(layout.page_width), _n(layout.page_height)
    body = "\n".join(_shape(s) for s in drawing(layout, station_id=station_id, ink=ink))
    title = escape(f"{layout.title} ({layout.name})")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
        f'viewBox="0 0 {w} {h}">\n<title>{title}</title>\n'
        f'<rect width="{w}" height="{h}" fill="white"/>\n{body}\n</svg>\n'
    )
