"""``plume scans``: send a scanned paper PV to the centre.

``plume scans upload --centre URL --token T --station ID FILE [--json]``
posts the scanner's PNG or JPEG to ``/v1/stations/{ID}/pv-scan`` (docs/api.md)
and prints what the centre read: each count field with its confidence, the
station id printed on the sheet, warnings, and the pen-against-paper findings.
The token may also come from ``PLUME_TOKEN``. Exit codes: 0 stored (now, or
before: same bytes), 1 refused or failed (not an image, not this form,
another station's sheet, no access, the centre unreachable), 2 a bad command
line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

TIMEOUT_S = 120.0
"""Reading a page takes seconds; a busy centre more."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("scans", help="send scanned paper PVs")

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="scans_command", metavar="VERB")
    up = verbs.add_parser("upload", help="upload one scanned PV (PNG or JPEG)")
    up.add_argument("--centre", required=True, help="the ingest URL, e.g. https://centre:8000")
    up.add_argument("--token", default=None, help="API token (default: $PLUME_TOKEN)")
    up.add_argument("--station", required=True, help="the station whose PV this is")
    up.add_argument("file", type=Path, help="the scanner's PNG or JPEG file")
    up.add_argument("--json", action="store_true", help="print the centre's answer as JSON")
    up.set_defaults(handler=_upload)


def content_type(data: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` from the file's first bytes; None: neither."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def upload(http: httpx.Client, token: str, station: str, data: bytes) -> httpx.Response:
    """POST the image; ``http`` has the centre as ``base_url`` (any transport, in tests)."""
    kind = content_type(data) or "application/octet-stream"  # the centre refuses it: SCAN.415
    return http.post(
        f"/v1/stations/{station}/pv-scan",
        content=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
        timeout=TIMEOUT_S,
    )


def report(answer: httpx.Response, as_json: bool) -> int:
    """Print the centre's answer; the exit code it means."""
    try:
        body = answer.json()
    except ValueError:
        body = {"error": {"code": f"HTTP.{answer.status_code}", "message": answer.text[:200]}}
    if as_json:
        print(json.dumps(body, indent=2))
    if answer.status_code not in (200, 201):
        err = body.get("error", {}) if isinstance(body, dict) else {}
        print(
            f"plume scans upload: refused ({answer.status_code} {err.get('code', '?')}): "
            f"{err.get('message', '')}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if not as_json:
        _summary(body)
    return EXIT_OK


def _summary(body: dict[str, Any]) -> None:
    sid = body.get("station_id_read") or {}
    how = f"{sid.get('method')}, {float(sid.get('confidence') or 0):.0%}"
    print(
        f"scan {body['scan_id']} of station {body['station_id']}: {body['status']}, "
        f"{body['outcome']} (sheet printed for {sid.get('text') or '?'} by {how})"
    )
    for w in body.get("warnings", []):
        print(f"  warning {w['code']}: {w['message']}")
    print(f"  {'field':<14} {'read':>6} confidence")
    for f in body.get("fields", []):
        flags = f"  [{', '.join(f['flags'])}]" if f.get("flags") else ""
        value = f["value"] if f["value"] is not None else "-"
        print(f"  {f['field_id']:<14} {value:>6} {f['confidence']:>9.0%}{flags}")
    findings = body.get("findings", [])
    if not findings:
        print("  pen and paper agree: no F.301/W.302")
    for f in findings:
        print(f"  {f['code']} {','.join(f['fields'])}: {f['message']}")


def _upload(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("PLUME_TOKEN")
    if not token:
        print("plume scans upload: give --token or set PLUME_TOKEN", file=sys.stderr)
        return EXIT_USAGE
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"plume scans upload: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    if content_type(data) is None:
        print(
            f"plume scans upload: {args.file} is not a PNG or JPEG file; "
            "save the scan as one of them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        with httpx.Client(base_url=args.centre) as http:
            answer = upload(http, token, args.station, data)
    except httpx.HTTPError as exc:
        print(f"plume scans upload: the centre did not answer: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return report(answer, args.json)
