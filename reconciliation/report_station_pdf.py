"""One station's report as PDF (reportlab): the station page of :mod:`reconciliation.report_station`
for print and archive.

Each PV value as the pen wrote it, next to the field's ink drawn as vector
lines from the strokes (strokes begun more than 10 minutes after the PV's
median ink time in red, as on the HTML page), the paper's reading with its
confidence and the paper crop when one is given (PNG or JPEG bytes), and the
station's findings with their evidence and next step. Deterministic like
:func:`reconciliation.report_pdf.area_pdf`: invariant mode, the generation
time an input, pages uncompressed so the text can be searched in the file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, PolyLine
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Table, TableStyle

from pen.ink import Ink
from reconciliation.arithmetic import PvCounts
from reconciliation.catalogue import field_label
from reconciliation.findings import Finding, ReconciliationError, Severity
from reconciliation.paper import PaperReading
from reconciliation.report_pdf import finding_paragraph
from reconciliation.report_station import codes_by_field, late_after, pv_rows
from reconciliation.timeline import PvTimeline

INK_WIDTH = 55 * mm
"""Widest a field's ink is drawn (a wider one is scaled down; a narrower one is at 1:1)."""
CROP_WIDTH = 40 * mm
"""Widest a paper crop is drawn."""
_COLUMNS = [38 * mm, 16 * mm, INK_WIDTH + 4 * mm, CROP_WIDTH + 6 * mm, 20 * mm]
_LATE = colors.HexColor("#b00020")
_INK = colors.HexColor("#112233")


def ink_drawing(ink: Ink, late_ms: float | None) -> Drawing | str:
    """A field's strokes as vector lines (paper millimetres, y up); late strokes in red."""
    if not len(ink):
        return ""
    xs = [float(v) for s in ink for v in s.points[:, 0]]
    ys = [float(v) for s in ink for v in s.points[:, 1]]
    x0, y0, y1 = min(xs) - 1.0, min(ys) - 1.0, max(ys) + 1.0
    scale = min(mm, INK_WIDTH / (max(xs) - x0 + 1.0))
    drawing = Drawing((max(xs) - x0 + 1.0) * scale, (y1 - y0) * scale)
    for s in ink:
        points = [
            v
            for x, y in s.points[:, :2]
            for v in ((float(x) - x0) * scale, (y1 - float(y)) * scale)
        ]
        late = late_ms is not None and s.start_ms > late_ms
        drawing.add(
            PolyLine(
                points,
                strokeColor=_LATE if late else _INK,
                strokeWidth=0.8,
                strokeLineCap=1,
                strokeLineJoin=1,
            )
        )
    return drawing


def crop_image(field_id: str, data: bytes) -> Image:
    """The paper crop of a field, at most :data:`CROP_WIDTH` wide, aspect kept."""
    try:
        width, height = ImageReader(io.BytesIO(data)).getSize()
    except Exception:  # reportlab/PIL raise many kinds for a bad image
        raise ReconciliationError(
            f"paper crop of {field_id}: not a readable PNG or JPEG image"
        ) from None
    if width <= 0 or height <= 0:
        raise ReconciliationError(f"paper crop of {field_id}: the image is empty")
    scale = min(1.0, CROP_WIDTH / width)
    return Image(io.BytesIO(data), width=width * scale, height=height * scale)


def _paper_cell(
    field_id: str, reading: PaperReading | None, crop: bytes | None, style: object
) -> list[object]:
    cell: list[object] = []
    if reading is not None:
        text = f"{escape(reading.value or '—')} ({100 * reading.confidence:.0f}%)"
        cell.append(Paragraph(text, style))
    if crop is not None:
        cell.append(crop_image(field_id, crop))
    return cell


def station_pdf(
    title: str,
    station_id: str,
    counts: PvCounts,
    findings: Sequence[Finding],
    *,
    generated_at: datetime,
    status: str,
    timeline: PvTimeline | None = None,
    paper: Mapping[str, PaperReading] | None = None,
    crops: Mapping[str, bytes] | None = None,
) -> bytes:
    """The station's report as PDF bytes; ``crops`` maps a field to its paper crop's bytes."""
    styles = getSampleStyleSheet()
    small = styles["BodyText"]
    mine = sorted((f for f in findings if f.station_id == station_id), key=Finding.sort_key)
    by_field = codes_by_field(mine)
    fields = timeline.fields if timeline is not None else {}
    late_ms = late_after(timeline)
    paper, crops = paper or {}, crops or {}
    rows: list[list[object]] = [["field", "pen", "ink", "paper", "findings"]]
    for name, value in pv_rows(counts):
        rows.append(
            [
                Paragraph(f"{escape(field_label(name))}<br/><font size=7>{name}</font>", small),
                value,
                ink_drawing(fields.get(name, Ink(())), late_ms),
                _paper_cell(name, paper.get(name), crops.get(name), small),
                Paragraph(escape(by_field.get(name, "")), small),
            ]
        )
    table = Table(rows, colWidths=_COLUMNS, hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
            ]
        )
    )
    counted = ", ".join(f"{sum(f.severity is s for f in mine)} {s.value}" for s in Severity)
    story: list[object] = [
        Paragraph(escape(f"{title} — bureau {station_id}"), styles["Title"]),
        Paragraph(
            f"Status {escape(status)}; generated {generated_at.isoformat()} by Plume.",
            styles["Normal"],
        ),
        Paragraph("Minutes (PV)", styles["Heading2"]),
        Paragraph(
            "Each value as the pen wrote it, with its ink (red: begun more than 10 minutes "
            "after the PV's median ink time) and the paper's reading.",
            styles["Normal"],
        ),
        table,
        Paragraph("Findings", styles["Heading2"]),
        Paragraph(counted, styles["Normal"]),
        *(finding_paragraph(f, small) for f in mine),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"{title} — bureau {station_id}",
        author="Plume",
        invariant=1,
        pageCompression=0,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    )
    doc.build(story)
    return out.getvalue()
