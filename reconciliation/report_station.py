"""One station's report page: each PV value with the field's ink, the paper's reading, the findings.

The ink of each field is drawn as inline SVG from the pen's strokes (what a
person compares with the paper), with strokes written after the median time
of the PV's ink in red, so a late correction stands out. The paper crop, when
given, is embedded as a ``data:`` URI: the page stays one file, opened
offline. Everything else is as in :mod:`reconciliation.report_html`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime

from pen.ink import Ink
from reconciliation.arithmetic import PvCounts
from reconciliation.catalogue import field_label
from reconciliation.findings import Finding, Severity
from reconciliation.paper import PaperReading
from reconciliation.report_html import esc, finding_item, page
from reconciliation.timeline import PvTimeline, clock

_SCALE = 4.0
"""SVG pixels per millimetre of paper."""


def ink_svg(ink: Ink, late_ms: float | None) -> str:
    """A field's strokes as inline SVG; strokes starting after ``late_ms`` drawn in red."""
    if not len(ink):
        return ""
    xs = [float(v) for s in ink for v in s.points[:, 0]]
    ys = [float(v) for s in ink for v in s.points[:, 1]]
    x0, y0 = min(xs) - 1.0, min(ys) - 1.0
    width, height = (max(xs) - x0 + 1.0) * _SCALE, (max(ys) - y0 + 1.0) * _SCALE
    lines = []
    for s in ink:
        points = " ".join(
            f"{(float(x) - x0) * _SCALE:.1f},{(float(y) - y0) * _SCALE:.1f}"
            for x, y in s.points[:, :2]
        )
        late = late_ms is not None and s.start_ms > late_ms
        colour = "#b00020" if late else "#123"
        lines.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6" '
            f'stroke-linecap="round"><title>{esc(clock(s.start_ms))}, pen '
            f"{esc(s.pen_serial)}</title></polyline>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="pen ink">{"".join(lines)}</svg>'
    )


LATE_AFTER_MS = 10 * 60_000
"""Ink begun this long after the median start of the PV's ink is drawn in red."""


def pv_rows(counts: PvCounts) -> list[tuple[str, str]]:
    """(field id, value as written) of each PV value, in form order; unread: a dash."""
    rows = [(name, "—" if v is None else str(v)) for name, v in counts.counts()]
    return [*rows, ("closing_time", counts.closing_time or "—")]


def late_after(timeline: PvTimeline | None) -> float | None:
    """The time after which a stroke is drawn as late (None: no ink)."""
    fields = timeline.fields if timeline is not None else {}
    starts = [s.start_ms for ink in fields.values() for s in ink]
    return statistics.median(starts) + LATE_AFTER_MS if starts else None


def codes_by_field(findings: Sequence[Finding]) -> dict[str, str]:
    """Each PV field's finding codes, space-separated, sorted."""
    by_field: dict[str, set[str]] = {}
    for f in findings:
        for name in f.fields:
            by_field.setdefault(name, set()).add(f.code)
    return {name: " ".join(sorted(codes)) for name, codes in by_field.items()}


def station_html(
    title: str,
    station_id: str,
    counts: PvCounts,
    findings: Sequence[Finding],
    *,
    generated_at: datetime,
    status: str,
    timeline: PvTimeline | None = None,
    paper: Mapping[str, PaperReading] | None = None,
    crops: Mapping[str, str] | None = None,
) -> str:
    """The station's page; ``crops`` maps a field to its paper crop as a ``data:`` URI."""
    mine = sorted((f for f in findings if f.station_id == station_id), key=Finding.sort_key)
    by_field = codes_by_field(mine)
    fields = timeline.fields if timeline is not None else {}
    late_ms = late_after(timeline)
    paper = paper or {}
    crops = crops or {}
    rows = []
    for name, value in pv_rows(counts):
        reading = paper.get(name)
        read = "" if reading is None else f"{esc(reading.value or '—')} ({reading.confidence:.0%})"
        crop = crops.get(name)
        image = f'<img alt="paper crop" src="{esc(crop)}">' if crop else ""
        codes = by_field.get(name, "")
        rows.append(
            f"<tr><td>{esc(field_label(name))}<br><code>{esc(name)}</code></td>"
            f'<td class="n">{esc(value)}</td><td>{ink_svg(fields.get(name, Ink(())), late_ms)}</td>'
            f"<td>{read}<br>{image}</td><td>{esc(codes)}</td></tr>"
        )
    counts_by = {s: sum(f.severity is s for f in mine) for s in Severity}
    body = (
        "<h2>Minutes (PV)</h2><p>Each value as the pen wrote it, with its ink (red: written "
        "more than 10 minutes after the PV's median ink time; hover a stroke for its time and "
        'pen) and the paper\'s reading.</p><table><tr><th>field</th><th class="n">pen</th>'
        f"<th>ink</th><th>paper</th><th>findings</th></tr>{''.join(rows)}</table>"
        "<h2>Findings</h2><p>"
        + ", ".join(f"{n} {s.value}" for s, n in counts_by.items())
        + f"</p><ul>{''.join(finding_item(f) for f in mine)}</ul>"
    )
    return page(f"{title} — bureau {station_id}", generated_at, status, body)
