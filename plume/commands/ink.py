"""``plume ink``: look at ink stored as InkML.

``plume ink show FILE.inkml --out ink.svg`` draws the ink as SVG and prints a
one-line summary; ``plume ink info FILE.inkml [--json]`` counts strokes per
field, pen and page and gives the time span. Exit codes: 0 done, 1 the file
could not be read or written or is not valid InkML (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pen.errors import PageAddressError, PenError
from pen.ink import Ink
from pen.ink_svg import ink_to_svg
from pen.inkml import InkDocument, from_inkml
from pen.page import PageAddress
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ink", help="show and inspect ink stored as W3C InkML"
    )

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="ink_command", metavar="VERB")

    show = verbs.add_parser("show", help="draw an InkML file as SVG")
    show.add_argument("file", type=Path, help="InkML file to read")
    show.add_argument("--out", type=Path, required=True, help="SVG file to write")
    show.add_argument(
        "--colour-by",
        choices=("field", "time", "none"),
        default="field",
        help="colour strokes by form field (default), by time, or not at all",
    )
    show.add_argument("--width-mm", type=float, default=None, help="printed width of the drawing")
    show.add_argument("--force-width", action="store_true", help="line width follows pen force")
    show.add_argument("--page", default=None, help="draw only this page (segment.shelf.book.page)")
    show.set_defaults(handler=_show)

    info = verbs.add_parser("info", help="summarise an InkML file")
    info.add_argument("file", type=Path, help="InkML file to read")
    info.add_argument("--json", action="store_true", help="print JSON for machines")
    info.set_defaults(handler=_info)


def _fail(message: str) -> int:
    print(f"plume ink: {message}", file=sys.stderr)
    return EXIT_FAILED


def _load(path: Path) -> InkDocument:
    """Read and parse; OSError and PenError propagate to the handler."""
    return from_inkml(path.read_bytes())


def _duration_s(ink: Ink) -> float:
    if not len(ink):
        return 0.0
    return (max(s.end_ms for s in ink) - min(s.start_ms for s in ink)) / 1000.0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _show(args: argparse.Namespace) -> int:
    try:
        doc = _load(args.file)
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror or exc}")
    except PenError as exc:
        return _fail(f"{args.file}: {exc}")
    ink, fields = doc.ink, doc.fields
    if args.page is not None:
        try:
            page = PageAddress.parse(args.page)
        except PageAddressError as exc:
            return _fail(str(exc))
        keep = [i for i, s in enumerate(ink) if s.page == page]
        if not keep:
            return _fail(f"{args.file} has no strokes on page {page}")
        new_index = {old: new for new, old in enumerate(keep)}
        ink = Ink(tuple(ink[i] for i in keep))
        fields = {
            fid: tuple(new_index[i] for i in ix if i in new_index) for fid, ix in fields.items()
        }
        fields = {fid: ix for fid, ix in fields.items() if ix}
    svg = ink_to_svg(
        ink,
        width_mm=args.width_mm,
        colour_by=None if args.colour_by == "none" else args.colour_by,
        fields=fields,
        width_by_force=args.force_width,
    )
    try:
        args.out.write_text(svg, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}")
    print(
        f"{args.out}: {_plural(len(ink), 'stroke')}, {_plural(ink.n_points, 'point')}, "
        f"{_plural(len(ink.pages()), 'page')}, {_plural(len(fields), 'field')}, "
        f"{_duration_s(ink):.1f} s"
    )
    return EXIT_OK


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).isoformat(timespec="milliseconds")


def _summary(doc: InkDocument) -> dict[str, Any]:
    ink = doc.ink
    pens: dict[str, int] = {}
    pages: dict[str, int] = {}
    for s in ink:
        pens[s.pen_serial] = pens.get(s.pen_serial, 0) + 1
        key = str(s.page) if s.page is not None else "(none)"
        pages[key] = pages.get(key, 0) + 1
    summary: dict[str, Any] = {
        "strokes": len(ink),
        "points": ink.n_points,
        "fields": {
            fid: {"strokes": len(ix), "points": sum(len(ink[i]) for i in ix)}
            for fid, ix in doc.fields.items()
        },
        "unassigned_strokes": len(doc.unassigned()),
        "pens": pens,
        "pages": pages,
        "metadata": doc.metadata,
    }
    if len(ink):
        start = min(s.start_ms for s in ink)
        end = max(s.end_ms for s in ink)
        summary["time"] = {
            "start_ms": start,
            "end_ms": end,
            "start": _iso(start),
            "end": _iso(end),
            "duration_s": (end - start) / 1000.0,
        }
    return summary


def _info(args: argparse.Namespace) -> int:
    try:
        doc = _load(args.file)
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror or exc}")
    except PenError as exc:
        return _fail(f"{args.file}: {exc}")
    summary = _summary(doc)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return EXIT_OK
    counts = f"{_plural(summary['strokes'], 'stroke')}, {_plural(summary['points'], 'point')}"
    print(f"{args.file}: {counts}")
    if "time" in summary:
        t = summary["time"]
        print(f"time: {t['start']} .. {t['end']} ({t['duration_s']:.1f} s)")
    print("pens: " + ", ".join(f"{k or '(no serial)'} ({v})" for k, v in summary["pens"].items()))
    print("pages: " + ", ".join(f"{k} ({v})" for k, v in summary["pages"].items()))
    print(f"fields: {len(summary['fields'])}, unassigned strokes: {summary['unassigned_strokes']}")
    for fid, counts in summary["fields"].items():
        print(
            f"  {fid}: {_plural(counts['strokes'], 'stroke')}, {_plural(counts['points'], 'point')}"
        )
    for key, value in summary["metadata"].items():
        print(f"meta {key}: {value}")
    return EXIT_OK
