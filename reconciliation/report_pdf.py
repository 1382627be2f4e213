"""Results reports as PDF (reportlab): the same content as the HTML pages, for print and archive.

:func:`area_pdf` lays out one area's summary (:mod:`reconciliation.summary`):
results, stations reporting, the fingerprint drawn as vector squares, and
every finding by severity with its evidence. Deterministic: reportlab's
invariant mode fixes the document id and dates, and the generation time
printed is an input. Pages are not compressed, so the text can be searched
in the file itself (reports are small).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reconciliation.findings import Finding, Severity
from reconciliation.fingerprint import Fingerprint
from reconciliation.report_html import evidence_text
from reconciliation.summary import AreaSummary

_SEVERITY_COLOUR = {
    Severity.ERROR: "#b00020",
    Severity.WARNING: "#8a5a00",
    Severity.INFO: "#224455",
}


def _fingerprint_drawing(fp: Fingerprint, winner_name: str) -> Drawing:
    cell, margin = 7.0, 30.0
    side = cell * fp.bins
    drawing = Drawing(side + margin + 10, side + margin + 10)
    drawing.add(
        Rect(margin, margin, side, side, fillColor=colors.whitesmoke, strokeColor=colors.grey)
    )
    top = max((max(row) for row in fp.counts), default=0)
    for i, row in enumerate(fp.counts):
        for j, count in enumerate(row):
            if count:
                shade = 0.15 + 0.85 * (count / top) ** 0.5
                fill = colors.Color(0.03, 0.19, 0.42, alpha=shade)
                drawing.add(
                    Rect(
                        margin + i * cell,
                        margin + j * cell,
                        cell,
                        cell,
                        fillColor=fill,
                        strokeWidth=0,
                    )
                )
    for k in (0, 50, 100):
        drawing.add(
            String(margin + side * k / 100, margin - 10, f"{k}%", fontSize=7, textAnchor="middle")
        )
        drawing.add(
            String(margin - 3, margin + side * k / 100 - 2, f"{k}%", fontSize=7, textAnchor="end")
        )
    drawing.add(
        String(
            margin + side / 2,
            margin - 22,
            f"turnout (x) against share of {winner_name} (y)",
            fontSize=8,
            textAnchor="middle",
        )
    )
    return drawing


def finding_paragraph(f: Finding, style: object) -> Paragraph:
    """A finding for print: code in its severity's colour, sentence, evidence, next step."""
    evidence = "; ".join(f"{escape(k)} = {escape(evidence_text(v))}" for k, v in f.evidence.items())
    colour = _SEVERITY_COLOUR[f.severity]
    return Paragraph(
        f'<font color="{colour}"><b>{escape(f.code)}</b></font> {escape(f.station_id)}: '
        f"{escape(f.message)}<br/><font size=7>{evidence}</font><br/>"
        f"<font size=7><i>Next: {escape(f.action)}</i></font>",
        style,
    )


def area_pdf(
    title: str,
    candidates: Sequence[str],
    summary: AreaSummary,
    *,
    generated_at: datetime,
    status: str,
) -> bytes:
    """One area's report as PDF bytes."""
    styles = getSampleStyleSheet()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=title,
        author="Plume",
        invariant=1,
        pageCompression=0,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    )
    t = summary.totals
    expected = "" if summary.expected_stations is None else f" of {summary.expected_stations}"
    turnout = "—" if summary.turnout is None else f"{100 * summary.turnout:.1f}%"
    story: list[object] = [
        Paragraph(escape(title), styles["Title"]),
        Paragraph(
            f"Status {escape(status)}; generated {generated_at.isoformat()} by Plume.",
            styles["Normal"],
        ),
        Paragraph("Results", styles["Heading2"]),
        Paragraph(
            f"Stations reporting: {len(summary.stations)}{expected} ({summary.incomplete} with an "
            f"unread count). Registered {t['registered']}, ballots {t['ballots']} (turnout "
            f"{turnout}), blank {t['blank']}, spoiled {t['spoiled']}, valid {t['valid']}.",
            styles["Normal"],
        ),
    ]
    rows = [["candidate", "votes", "share"]] + [
        [name, str(v), f"{100 * s:.1f}%"]
        for name, v, s in zip(candidates, summary.votes, summary.shares(), strict=False)
    ]
    table = Table(rows, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey)]
        )
    )
    fp = summary.fingerprint
    winner = candidates[fp.winner] if fp.winner is not None and fp.winner < len(candidates) else "—"
    story += [table, Paragraph("Fingerprint (Klimek et al., PNAS 2012)", styles["Heading2"])]
    story += [_fingerprint_drawing(fp, winner), Spacer(1, 4 * mm)]
    groups = summary.by_severity()
    story.append(Paragraph("Findings", styles["Heading2"]))
    story.append(
        Paragraph(
            ", ".join(f"{len(groups[s])} {s.value}" for s in Severity)
            + " (across-station 6xx findings are flags, not verdicts).",
            styles["Normal"],
        )
    )
    for severity in Severity:
        story += [finding_paragraph(f, styles["BodyText"]) for f in groups[severity]]
    doc.build(story)
    return out.getvalue()
