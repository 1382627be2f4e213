"""``plume results``: run the rules, write reports and the CDF export from a results file, offline.

``plume results check FILE [--json]`` runs every PV rule (with the ink's
timeline where the file gives one) and the across-station statistics, and
lists the findings; it exits 1 when any finding has error severity.
``plume results report FILE --out DIR [--pdf] [--stations]`` writes
``national.html`` and one ``departement-<code>.html`` per département (and
``.pdf`` twins; with ``--stations`` one ``station-<id>.html`` each, with the
ink and the paper crops, and its ``.pdf`` twin with ``--pdf``).
``plume results export-cdf FILE --out results.xml --status STATUS`` writes
the NIST SP 1500-100 export. The file format (``plume-results`` v1) is in
docs/reports.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from reconciliation import Finding, ReconciliationError, Severity, check_across, check_pv
from reconciliation.cdf import ReportStatus, StationResult, results_cdf
from reconciliation.paper import PaperReading
from reconciliation.report_html import departement_html, national_html
from reconciliation.report_pdf import area_pdf
from reconciliation.report_station import station_html
from reconciliation.report_station_pdf import station_pdf
from reconciliation.results_file import ResultsFile, parse_results
from reconciliation.summary import summarise
from reconciliation.tallies import by_departement


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "results", help="check, report and export results from a plume-results file"
    )

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="results_command", metavar="VERB")
    statuses = [s.value for s in ReportStatus]

    check = verbs.add_parser("check", help="run every rule; exit 1 if any error-severity finding")
    check.add_argument("file", type=Path, help="plume-results JSON file")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(handler=_check)

    report = verbs.add_parser("report", help="write the HTML (and PDF) reports")
    report.add_argument("file", type=Path)
    report.add_argument("--out", type=Path, required=True, help="folder to write the reports in")
    report.add_argument("--pdf", action="store_true", help="also write a PDF of each page")
    report.add_argument(
        "--stations", action="store_true", help="also write one page per station (ink, paper)"
    )
    report.add_argument("--status", choices=statuses, default="unofficial-partial")
    report.set_defaults(handler=_report)

    export = verbs.add_parser("export-cdf", help="write the NIST SP 1500-100 v2 results XML")
    export.add_argument("file", type=Path)
    export.add_argument("--out", type=Path, required=True, help="XML file to write")
    export.add_argument("--status", choices=statuses, required=True)
    export.set_defaults(handler=_export)


def _fail(message: str) -> int:
    print(f"plume results: {message}", file=sys.stderr)
    return EXIT_FAILED


def _load(path: Path) -> ResultsFile:
    """Read and parse the file; ink paths are relative to the file's folder."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReconciliationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReconciliationError(f"{path} is not JSON text: {exc}") from None

    def read_ink(name: str) -> str:
        return (path.parent / name).read_text(encoding="utf-8")

    return parse_results(document, read_ink)


def findings_of(results: ResultsFile) -> list[Finding]:
    """Every PV finding of every station, then the across-station ones, in rule order."""
    findings: list[Finding] = []
    for s in results.stations:
        findings += check_pv(
            s.tally.counts, station_id=s.tally.station_id, timeline=s.timeline, paper=s.paper
        )
    findings += check_across(results.tallies, previous=results.previous)
    return sorted(findings, key=Finding.sort_key)


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "station_id": f.station_id,
        "fields": list(f.fields),
        "message": f.message,
        "action": f.action,
        "evidence": {k: list(v) if isinstance(v, tuple) else v for k, v in f.evidence.items()},
    }


def _check(args: argparse.Namespace) -> int:
    try:
        results = _load(args.file)
        findings = findings_of(results)
    except ReconciliationError as exc:
        return _fail(str(exc))
    errors = sum(f.severity is Severity.ERROR for f in findings)
    if args.json:
        print(
            json.dumps(
                {
                    "stations": len(results.stations),
                    "findings": [_finding_json(f) for f in findings],
                },
                ensure_ascii=False,
            )
        )
    else:
        counts = {s: sum(f.severity is s for f in findings) for s in Severity}
        print(
            f"{len(results.stations)} station(s): "
            + ", ".join(f"{n} {s.value}" for s, n in counts.items())
        )
        for f in findings:
            print(f"{f.code}  {f.station_id}  {f.message}")
    return EXIT_FAILED if errors else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    try:
        results = _load(args.file)
        findings = findings_of(results)
    except ReconciliationError as exc:
        return _fail(str(exc))
    e = results.election
    common = {"generated_at": e.generated_at, "status": args.status}
    pages: dict[str, str | bytes] = {
        "national.html": national_html(
            e.name,
            e.candidates,
            results.tallies,
            findings,
            expected_stations=dict(results.expected_stations),
            **common,
        )
    }
    departements = by_departement(results.tallies)
    for dept in departements:
        pages[f"departement-{dept}.html"] = departement_html(
            e.name,
            e.candidates,
            results.tallies,
            findings,
            dept,
            expected_stations=results.expected_stations.get(dept),
            **common,
        )
    if args.stations:
        try:
            for s in results.stations:
                crops = _crops(args.file.parent, s.paper or {})
                station = {"timeline": s.timeline, "paper": s.paper, **common}
                sid = s.tally.station_id
                pages[f"station-{sid}.html"] = station_html(
                    e.name,
                    sid,
                    s.tally.counts,
                    findings,
                    crops={k: _data_uri(name, data) for k, (name, data) in crops.items()},
                    **station,
                )
                if args.pdf:
                    pages[f"station-{sid}.pdf"] = station_pdf(
                        e.name,
                        sid,
                        s.tally.counts,
                        findings,
                        crops={k: data for k, (_, data) in crops.items()},
                        **station,
                    )
        except ReconciliationError as exc:
            return _fail(str(exc))
    if args.pdf:
        areas: list[str | None] = [None, *departements]
        for area in areas:
            summary = summarise(
                results.tallies,
                findings,
                area,
                results.expected_stations.get(area) if area else None,
            )
            title = e.name if area is None else f"{e.name} — département {area}"
            name = "national.pdf" if area is None else f"departement-{area}.pdf"
            pages[name] = area_pdf(title, e.candidates, summary, **common)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, content in pages.items():
            target = args.out / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write the reports in {args.out}: {exc.strerror or exc}")
    print(f"wrote {len(pages)} file(s) in {args.out}")
    return EXIT_OK


_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _crops(folder: Path, paper: Mapping[str, PaperReading]) -> dict[str, tuple[str, bytes]]:
    """Each paper crop named in the file: (its name, its bytes), by field."""
    out = {}
    for name, reading in paper.items():
        if reading.crop is None:
            continue
        path = folder / reading.crop
        if path.suffix.lower() not in _IMAGE_TYPES:
            raise ReconciliationError(f"paper crop {reading.crop}: name a .png or .jpg image")
        try:
            out[name] = (reading.crop, path.read_bytes())
        except OSError as exc:
            raise ReconciliationError(
                f"cannot read paper crop {reading.crop}: {exc.strerror or exc}"
            ) from None
    return out


def _data_uri(name: str, data: bytes) -> str:
    """A crop embedded in a page as a ``data:`` URI (its type from its name's suffix)."""
    kind = _IMAGE_TYPES[Path(name).suffix.lower()]
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _export(args: argparse.Namespace) -> int:
    try:
        results = _load(args.file)
        stations = [
            StationResult.from_counts(
                s.tally.counts,
                station_id=s.tally.station_id,
                departement=s.tally.departement,
                commune=s.commune,
                registered=s.tally.registered,
            )
            for s in results.stations
        ]
        xml = results_cdf(results.election, stations, ReportStatus(args.status))
    except ReconciliationError as exc:
        return _fail(str(exc))
    try:
        args.out.write_text(xml, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}")
    print(f"wrote {args.out} ({len(stations)} station(s), status {args.status})")
    return EXIT_OK
