"""Drawing ink as SVG, for people to look at (``plume ink show``).

Each stroke becomes one SVG element in page millimetres (the ``viewBox`` is
the ink's bounding box plus a margin): a ``<polyline>`` of constant width, or,
with ``width_by_force``, a filled ``<path>`` outlining a line whose width
follows the pen's force, with round ends. Strokes can be coloured by form
field (with the field id as a small label) or by time (blue for the first
stroke, red for the last). Independent of form layouts; pure: returns text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from pen.ink import Ink, Stroke

ColourBy = Literal["field", "time"] | None

#: Colours for fields, in order (Tableau 10, readable on white).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
INK_COLOUR = "#1a1a1a"
LABEL_SIZE_MM = 2.5
#: Width at zero force, as a share of the full width, when width follows force.
MIN_WIDTH_SHARE = 0.25


def _esc(text: str) -> str:
    text = "".join(c if c >= " " or c in "\t\n" else "\ufffd" for c in text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _n(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _time_colour(share: float) -> str:
    red = round(40 + 200 * share)
    blue = round(240 - 200 * share)
    return f"#{red:02x}40{blue:02x}"


def _outline(stroke: Stroke, width_mm: float) -> str:
    """Path data of a line whose width follows force, with round caps."""
    xy = stroke.points[:, :2]
    half = width_mm / 2 * (MIN_WIDTH_SHARE + (1 - MIN_WIDTH_SHARE) * stroke.force)
    n = xy.shape[0]
    if n == 1:
        tangent = np.array([[1.0, 0.0]])
    else:
        tangent = np.empty_like(xy)
        tangent[1:-1] = xy[2:] - xy[:-2]
        tangent[0] = xy[1] - xy[0]
        tangent[-1] = xy[-1] - xy[-2]
    length = np.hypot(tangent[:, 0], tangent[:, 1])
    flat = length == 0
    tangent[flat] = (1.0, 0.0)
    length[flat] = 1.0
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]]) / length[:, None]
    left = xy + normal * half[:, None]
    right = xy - normal * half[:, None]
    parts = [f"M{_n(left[0, 0])},{_n(left[0, 1])}"]
    parts += [f"L{_n(x)},{_n(y)}" for x, y in left[1:]]
    r_end, r_start = _n(float(half[-1])), _n(float(half[0]))
    parts.append(f"A{r_end},{r_end} 0 0 1 {_n(right[-1, 0])},{_n(right[-1, 1])}")
    parts += [f"L{_n(x)},{_n(y)}" for x, y in right[-2::-1]]
    parts.append(f"A{r_start},{r_start} 0 0 1 {_n(left[0, 0])},{_n(left[0, 1])}Z")
    return " ".join(parts)


def ink_to_svg(
    ink: Ink,
    *,
    width_mm: float | None = None,
    margin_mm: float = 5.0,
    stroke_width_mm: float = 0.35,
    colour_by: ColourBy = "field",
    fields: Mapping[str, Sequence[int]] | None = None,
    width_by_force: bool = False,
) -> str:
    """An SVG document showing ``ink``; one ``<polyline>`` or ``<path>`` per stroke.

    ``width_mm`` sets the drawing's printed width (default: true size).
    ``fields`` maps field ids to stroke indices: each field's id is written
    next to its ink, and with ``colour_by="field"`` each field has a colour.
    """
    fields = fields or {}
    field_of: dict[int, str] = {}
    for fid, indices in fields.items():
        for i in indices:
            field_of.setdefault(int(i), fid)
    colour_of = {fid: PALETTE[k % len(PALETTE)] for k, fid in enumerate(fields)}
    x0, y0, x1, y1 = ink.bbox() if len(ink) else (0.0, 0.0, 0.0, 0.0)
    vb_x, vb_y = x0 - margin_mm, y0 - margin_mm - (LABEL_SIZE_MM if fields else 0.0)
    vb_w = max(x1 - x0 + 2 * margin_mm, 1.0)
    vb_h = max(y1 - vb_y + margin_mm, 1.0)
    shown_w = vb_w if width_mm is None else width_mm
    shown_h = vb_h * shown_w / vb_w
    starts = [s.start_ms for s in ink]
    t_lo, t_hi = (min(starts), max(starts)) if starts else (0.0, 0.0)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(shown_w)}mm" '
        f'height="{_n(shown_h)}mm" viewBox="{_n(vb_x)} {_n(vb_y)} {_n(vb_w)} {_n(vb_h)}">',
        f'  <rect x="{_n(vb_x)}" y="{_n(vb_y)}" width="{_n(vb_w)}" height="{_n(vb_h)}" '
        'fill="white"/>',
    ]
    for i, stroke in enumerate(ink):
        owner = field_of.get(i)
        if colour_by == "field" and owner is not None:
            colour = colour_of[owner]
        elif colour_by == "time":
            colour = _time_colour(0.0 if t_hi == t_lo else (stroke.start_ms - t_lo) / (t_hi - t_lo))
        else:
            colour = INK_COLOUR
        title = f"stroke {i}, pen {stroke.pen_serial}, page {stroke.page or '-'}"
        title += f", field {owner}" if owner is not None else ""
        if width_by_force:
            out.append(
                f'  <path class="stroke" d="{_outline(stroke, stroke_width_mm)}" fill="{colour}">'
                f"<title>{_esc(title)}</title></path>"
            )
        else:
            points = " ".join(f"{_n(x)},{_n(y)}" for x, y in stroke.points[:, :2])
            out.append(
                f'  <polyline class="stroke" points="{points}" fill="none" stroke="{colour}" '
                f'stroke-width="{_n(stroke_width_mm)}" stroke-linecap="round" '
                f'stroke-linejoin="round"><title>{_esc(title)}</title></polyline>'
            )
    for fid, indices in fields.items():
        drawn = [ink[i] for i in indices if 0 <= i < len(ink)]
        if not drawn:
            continue
        lx, ly, _, _ = Ink(tuple(drawn)).bbox()
        colour = colour_of[fid] if colour_by == "field" else INK_COLOUR
        out.append(
            f'  <text class="field-label" x="{_n(lx)}" y="{_n(ly - 0.8)}" '
            f'font-size="{_n(LABEL_SIZE_MM)}" font-family="sans-serif" fill="{colour}">'
            f"{_esc(fid)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
