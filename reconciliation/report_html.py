"""Results reports as one self-contained HTML file: inline CSS and SVG, no script, no network.

:func:`national_html` is the nation's page (results, stations reporting, a
table of départements, every finding by severity with its evidence, the
fingerprint); :func:`departement_html` is one département's (the same, with a
table of its stations instead). The generation time is an input, so the same
data give the same bytes. Text is escaped; evidence is listed as
key = value in a ``<details>`` element a reader opens without script.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from reconciliation.findings import EvidenceValue, Finding, Severity
from reconciliation.fingerprint import Fingerprint
from reconciliation.summary import AreaSummary, summarise
from reconciliation.tallies import StationTally, by_departement

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;border-bottom:1px solid #eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#b00020}.warning{color:#8a5a00}.info{color:#245}
details{margin:.2em 0}summary{cursor:pointer}dl{margin:.2em 1em;font-size:.9em}
dt{float:left;clear:left;width:12em;color:#555}dd{margin-left:13em;word-break:break-all}
.meta{color:#555}
""".strip()


def esc(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def evidence_text(value: EvidenceValue) -> str:
    """An evidence value as text: tuples joined by commas, floats to 6 significant digits."""
    if isinstance(value, tuple):
        return ", ".join(evidence_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _bars(names: Sequence[str], shares: Sequence[float]) -> str:
    """Horizontal bar chart of the candidates' shares, as inline SVG."""
    row, label_w, bar_w = 22, 190, 360
    height = row * len(names) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" '
        f'height="{height}" role="img" aria-label="Share of valid votes by candidate">'
    ]
    for i, (name, share) in enumerate(zip(names, shares, strict=True)):
        y = 2 + i * row
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{esc(name)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * share:.1f}" height="{row - 6}" '
            f'fill="#3a6ea5"/><text x="{label_w + bar_w * share + 4:.1f}" y="{y + 15}" '
            f'font-size="12">{100 * share:.1f}%</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def fingerprint_svg(fp: Fingerprint, winner_name: str) -> str:
    """The Klimek fingerprint as an inline SVG heat map (darker: more stations)."""
    cell, margin = 16, 44
    side = cell * fp.bins
    top = max((max(row) for row in fp.counts), default=0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side + margin + 10}" '
        f'height="{side + margin + 10}" role="img" aria-label="Election fingerprint: '
        f'{fp.stations} stations by turnout and winner share">',
        f'<rect x="{margin}" y="10" width="{side}" height="{side}" fill="#fafafa" stroke="#999"/>',
    ]
    for i, row in enumerate(fp.counts):
        for j, count in enumerate(row):
            if not count:
                continue
            shade = 0.15 + 0.85 * (count / top) ** 0.5
            cx, cy = margin + i * cell, 10 + side - (j + 1) * cell
            parts.append(
                f'<rect x="{cx}" y="{cy}" width="{cell}" height="{cell}" fill="#08306b" '
                f'fill-opacity="{shade:.3f}"><title>{count} station(s)</title></rect>'
            )
    for k in range(0, 101, 25):
        x = margin + side * k / 100
        y = 10 + side - side * k / 100
        parts.append(
            f'<text x="{x:.0f}" y="{side + 26}" text-anchor="middle" font-size="10">{k}%</text>'
            f'<text x="{margin - 4}" y="{y + 3:.0f}" text-anchor="end" font-size="10">{k}%</text>'
        )
    parts.append(
        f'<text x="{margin + side / 2:.0f}" y="{side + 42}" text-anchor="middle" '
        f'font-size="11">turnout</text><text x="10" y="{10 + side / 2:.0f}" font-size="11" '
        f'transform="rotate(-90 10 {10 + side / 2:.0f})" text-anchor="middle">'
        f"share of {esc(winner_name)}</text></svg>"
    )
    return "".join(parts)


def finding_item(f: Finding) -> str:
    """One finding as a list item, its evidence and next step in a ``<details>``."""
    rows = "".join(
        f"<dt>{esc(k)}</dt><dd>{esc(evidence_text(v))}</dd>" for k, v in f.evidence.items()
    )
    return (
        f'<li><span class="{f.severity.value}"><b>{esc(f.code)}</b></span> '
        f"<code>{esc(f.station_id)}</code> {esc(f.message)}"
        f"<details><summary>evidence and next step</summary><dl>{rows}"
        f"<dt>next</dt><dd>{esc(f.action)}</dd></dl></details></li>"
    )


def _findings(summary: AreaSummary) -> str:
    groups = summary.by_severity()
    counts = ", ".join(f"{len(groups[s])} {s.value}" for s in Severity)
    out = [
        f"<h2>Findings</h2><p>{counts} (across-station 6xx findings are flags, not verdicts)</p>"
    ]
    for severity in Severity:
        if groups[severity]:
            items = "".join(finding_item(f) for f in groups[severity])
            out.append(f'<h3 class="{severity.value}">{severity.value}</h3><ul>{items}</ul>')
    return "".join(out)


def _results(summary: AreaSummary, candidates: Sequence[str]) -> str:
    t = summary.totals
    expected = (
        f" of {_num(summary.expected_stations)}" if summary.expected_stations is not None else ""
    )
    head = (
        f"<h2>Results</h2><p>Stations reporting: <b>{_num(len(summary.stations))}{expected}</b>"
        f" ({summary.incomplete} with an unread count). Registered {_num(t['registered'])}, "
        f"ballots {_num(t['ballots'])} (turnout {_pct(summary.turnout)}), blank "
        f"{_num(t['blank'])}, spoiled {_num(t['spoiled'])}, valid {_num(t['valid'])}.</p>"
    )
    shares = summary.shares()
    rows = "".join(
        f'<tr><td>{esc(name)}</td><td class="n">{_num(v)}</td><td class="n">{_pct(s)}</td></tr>'
        for name, v, s in zip(candidates, summary.votes, shares, strict=False)
    )
    table = (
        '<table><tr><th>candidate</th><th class="n">votes</th><th class="n">share</th></tr>'
        f"{rows}</table>"
    )
    shown = min(len(candidates), len(shares))
    return head + table + _bars(candidates[:shown], shares[:shown])


def _fingerprint(summary: AreaSummary, candidates: Sequence[str]) -> str:
    fp = summary.fingerprint
    name = candidates[fp.winner] if fp.winner is not None and fp.winner < len(candidates) else "—"
    return (
        "<h2>Fingerprint</h2><p>Each station placed by turnout and the share of the winner, "
        f"{esc(name)} (Klimek et al., PNAS 2012); {fp.stations} stations placed. "
        "Stuffing drags stations to the upper right.</p>" + fingerprint_svg(fp, name)
    )


def page(title: str, generated_at: datetime, status: str, body: str) -> str:
    """A whole HTML document around ``body``."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{esc(title)}</h1><p class="meta">Status {esc(status)}; generated '
        f"{esc(generated_at.isoformat())} by Plume from the stations' digital-pen minutes.</p>"
        f"{body}</body></html>\n"
    )


def national_html(
    title: str,
    candidates: Sequence[str],
    tallies: Sequence[StationTally],
    findings: Sequence[Finding],
    *,
    generated_at: datetime,
    status: str,
    expected_stations: dict[str, int] | None = None,
) -> str:
    """The nation's report page."""
    expected = expected_stations or {}
    summary = summarise(tallies, findings, None, sum(expected.values()) if expected else None)
    rows = []
    for dept in by_departement(tallies):
        d = summarise(tallies, findings, dept, expected.get(dept))
        errors = len(d.by_severity()[Severity.ERROR])
        shares = d.shares()
        lead = max(range(len(shares)), key=lambda i: (shares[i], -i)) if shares else None
        rows.append(
            f'<tr><td>{esc(dept)}</td><td class="n">{len(d.stations)}</td>'
            f'<td class="n">{_pct(d.turnout)}</td>'
            f"<td>{esc(candidates[lead]) if lead is not None and lead < len(candidates) else '—'}"
            f'</td><td class="n">{errors}</td><td class="n">{len(d.findings)}</td></tr>'
        )
    table = (
        '<h2>Départements</h2><table><tr><th>département</th><th class="n">stations</th>'
        '<th class="n">turnout</th><th>first</th><th class="n">errors</th>'
        f'<th class="n">findings</th></tr>{"".join(rows)}</table>'
    )
    body = (
        _results(summary, candidates)
        + _fingerprint(summary, candidates)
        + table
        + _findings(summary)
    )
    return page(title, generated_at, status, body)


def departement_html(
    title: str,
    candidates: Sequence[str],
    tallies: Sequence[StationTally],
    findings: Sequence[Finding],
    departement: str,
    *,
    generated_at: datetime,
    status: str,
    expected_stations: int | None = None,
) -> str:
    """One département's report page (``tallies`` may hold the whole nation)."""
    summary = summarise(tallies, findings, departement, expected_stations)
    codes: dict[str, list[str]] = {}
    for f in summary.findings:
        codes.setdefault(f.station_id, []).append(f.code)
    rows = "".join(
        f'<tr><td>{esc(t.station_id)}</td><td class="n">{_num(t.registered or 0)}</td>'
        f'<td class="n">{"—" if t.counts.ballots is None else _num(t.counts.ballots)}</td>'
        f'<td class="n">{_pct(t.turnout)}</td>'
        f"<td>{esc(' '.join(sorted(set(codes.get(t.station_id, [])))))}</td></tr>"
        for t in summary.stations
    )
    table = (
        '<h2>Stations</h2><table><tr><th>station</th><th class="n">registered</th>'
        '<th class="n">ballots</th><th class="n">turnout</th><th>findings</th></tr>'
        f"{rows}</table>"
    )
    body = (
        _results(summary, candidates)
        + _fingerprint(summary, candidates)
        + table
        + _findings(summary)
    )
    return page(f"{title} — département {departement}", generated_at, status, body)
