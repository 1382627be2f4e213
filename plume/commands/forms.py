"""``plume forms``: list, inspect and print the packaged form layouts.

``plume forms list [--json]``, ``plume forms show pv [--json]`` and
``plume forms render pv --out pv.pdf`` (or ``.svg``; ``--station-id``,
``--candidates "A,B,C"``, ``--version``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pen.errors import PenError
from pen.forms import FormLayout, Rect, known_forms, load_form, render_pdf, render_svg
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("forms", help="list, inspect and print the forms")

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="forms_command", metavar="VERB")

    ls = verbs.add_parser("list", help="the forms and versions this build knows")
    ls.add_argument("--json", action="store_true", help="print JSON for machines")
    ls.set_defaults(handler=_list)

    for name, help_text, handler in (
        ("show", "the fields and boxes of a form", _show),
        ("render", "draw a form for printing, as PDF or SVG", _render),
    ):
        v = verbs.add_parser(name, help=help_text)
        v.add_argument("form", help="form id, e.g. pv or contact")
        v.add_argument("--version", type=int, default=None, help="layout version (default: latest)")
        v.add_argument(
            "--candidates", default=None, help="comma-separated candidate names (PV only)"
        )
        if name == "show":
            v.add_argument("--json", action="store_true", help="print JSON for machines")
        else:
            v.add_argument("--out", type=Path, required=True, help="file to write: .pdf or .svg")
            v.add_argument("--station-id", default=None, help="station identifier to print")
        v.set_defaults(handler=handler)


def _fail(message: str) -> int:
    print(f"plume forms: {message}", file=sys.stderr)
    return EXIT_FAILED


def _load(args: argparse.Namespace) -> FormLayout:
    names = None
    if args.candidates is not None:
        names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    return load_form(args.form, args.version, candidates=names)


def _list(args: argparse.Namespace) -> int:
    forms = known_forms()
    if args.json:
        print(json.dumps({fid: list(vs) for fid, vs in forms.items()}))
        return EXIT_OK
    table = Table(title="Forms")
    table.add_column("form")
    table.add_column("versions")
    table.add_column("title")
    for fid, versions in forms.items():
        table.add_row(fid, ", ".join(map(str, versions)), load_form(fid).title)
    Console().print(table)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    try:
        layout = _load(args)
    except PenError as exc:
        return _fail(exc.message)
    if args.json:
        print(
            json.dumps(
                {
                    "form_id": layout.form_id,
                    "version": layout.version,
                    "page_mm": [layout.page_width, layout.page_height],
                    "fields": [
                        {
                            "id": f.id,
                            "kind": f.kind,
                            "label": f.label,
                            "boxes": [
                                {"id": b.id, "kind": b.kind, "rect_mm": _rect(b.rect)}
                                for b in f.boxes
                            ],
                        }
                        for f in layout.fields
                    ],
                    "registration_marks": [
                        {"id": m.id, "centre_mm": [m.cx, m.cy], "size_mm": m.size}
                        for m in layout.marks
                    ],
                },
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    table = Table(title=f"{layout.title} ({layout.name})")
    for col in ("field", "kind", "boxes", "label", "x, y (mm)"):
        table.add_column(col)
    for f in layout.fields:
        r = f.rect
        table.add_row(f.id, f.kind, str(len(f.boxes)), f.label, f"{r.x:g}, {r.y:g}")
    Console().print(table)
    return EXIT_OK


def _rect(r: Rect) -> list[float]:
    return [r.x, r.y, r.width, r.height]


def _render(args: argparse.Namespace) -> int:
    out: Path = args.out
    kind = out.suffix.lower()
    if kind not in (".pdf", ".svg"):
        return _fail(f"cannot tell the format of {out}: name it .pdf or .svg")
    try:
        layout = _load(args)
    except PenError as exc:
        return _fail(exc.message)
    try:
        if kind == ".pdf":
            data = render_pdf(layout, station_id=args.station_id)
        else:
            data = render_svg(layout, station_id=args.station_id).encode("utf-8")
    except PenError as exc:
        return _fail(exc.message)
    try:
        out.write_bytes(data)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror}")
    print(f"wrote {out} ({layout.name}, {len(layout.fields)} fields, {len(layout.boxes)} boxes)")
    return EXIT_OK
