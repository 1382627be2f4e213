"""``plume demo --wire-only``: one PV through the pen's wire, offline, in seconds.

Print the PV and the contact form; a
simulated president writes a consistent count on the PV with a simulated
pen, in a real writer's hand (UNIPEN glyphs); the pen's session goes over the
wire protocol through a noisy line; the bytes are decoded back to ink with
every anomaly reported; the ink is assigned to the form's fields; the result
is written as InkML, SVG and raw bytes. The whole chain (agents, ingest,
recognition, reconciliation) is :mod:`plume.demo`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hardware_sim.electorate import ROUND_ONE_2011, honest_count
from hardware_sim.handwriting import Writer
from hardware_sim.session import PenIdentity, flip_bytes, session_bytes
from pen.forms import assign, load_form, render_pdf, render_svg
from pen.ink import Ink, Stroke
from pen.inkml import to_inkml
from pen.page import PageAddress
from pen.wire import decode_ink
from plume.exit_codes import EXIT_FAILED, EXIT_OK

STATION_ID = "75056-0042"
PV_PAGE = PageAddress(70, 12, 3, 41)
PEN_SERIAL = "AJX-0042-01"
#: 9 October 2011, 19:05 in Paris: the count of round one starts.
COUNT_STARTS_MS = 1_318_179_900_000


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json, highlight=False)
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"plume demo: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    rng = np.random.default_rng(args.seed)

    with console.status("Printing the forms"):
        pv = load_form("pv", candidates=tuple(ROUND_ONE_2011))
        contact = load_form("contact")
        (out / "pv.pdf").write_bytes(render_pdf(pv, station_id=STATION_ID))
        (out / "contact.pdf").write_bytes(render_pdf(contact))
    console.print(f"[bold]1. Forms[/] printed: {out / 'pv.pdf'}, {out / 'contact.pdf'}")

    fields_text = honest_count(rng).fields()
    written: dict[str, list[Stroke]] = {}
    t = float(COUNT_STARTS_MS)
    president = Writer(seed=args.seed)
    for field_id, text in fields_text.items():
        strokes = president.write_field(
            text, pv.field(field_id), t, pen_serial=PEN_SERIAL, page=PV_PAGE
        )
        written[field_id] = strokes
        t = strokes[-1].end_ms + float(rng.uniform(2_000, 8_000))
    ink = Ink(tuple(s for strokes in written.values() for s in strokes))
    console.print(
        f"[bold]2. The president writes the count[/]: {len(ink)} strokes, "
        f"{ink.n_points:,} points on page {PV_PAGE}"
    )

    clean = session_bytes(ink, PenIdentity(PEN_SERIAL))
    damaged, where = flip_bytes(clean, args.noise, rng)
    (out / "pen-session.bin").write_bytes(damaged)
    decoded, anomalies = decode_ink(damaged)
    kinds = Counter(type(a).__name__ for a in anomalies)
    console.print(
        f"[bold]3. Over the wire[/]: {len(clean):,} bytes, {len(where)} damaged by line noise; "
        f"decoded {len(decoded)}/{len(ink)} strokes; anomalies reported: "
        + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none")
    )

    assignment = assign(decoded, pv)
    table = Table(title=f"4. PV of station {STATION_ID}, ink per field")
    for col in ("field", "written", "strokes sent", "received", "status"):
        table.add_column(col, justify="left" if col in ("field", "status") else "right")
    rows: list[dict[str, Any]] = []
    misplaced = 0
    for f in pv.fields:
        if f.id not in written:
            continue
        text = fields_text[f.id]
        got = assignment.fields.get(f.id, Ink())
        sent = written[f.id]
        foreign = sum(1 for s in got if not any(w.start_ms <= s.start_ms <= w.end_ms for w in sent))
        misplaced += foreign
        lost_strokes = len(sent) - len(got) + foreign
        lost_points = sum(len(w) for w in sent) - got.n_points
        if foreign:
            status = f"{foreign} stroke(s) from another field"
        elif lost_strokes:
            status = f"{lost_strokes} stroke(s) lost to line damage (reported)"
        elif lost_points:
            status = f"{lost_points} point(s) lost to line damage (reported)"
        else:
            status = "complete"
        table.add_row(f.label, text, str(len(sent)), str(len(got)), status)
        rows.append(
            {
                "field": f.id,
                "written": text,
                "sent": len(sent),
                "received": len(got),
                "points_lost": lost_points,
            }
        )
    console.print(table)

    (out / "pv.inkml").write_text(
        to_inkml(decoded, fields=assignment.indices, metadata={"station": STATION_ID}),
        encoding="utf-8",
    )
    (out / "pv-with-ink.svg").write_text(
        render_svg(pv, station_id=STATION_ID, ink=decoded), encoding="utf-8"
    )
    console.print(
        f"[bold]5. Saved[/]: {out / 'pv.inkml'} (W3C InkML, one group per field), "
        f"{out / 'pv-with-ink.svg'}, {out / 'pen-session.bin'} (raw wire bytes)"
    )
    if args.json:
        summary = {
            "station": STATION_ID,
            "strokes_written": len(ink),
            "strokes_decoded": len(decoded),
            "bytes": len(clean),
            "bytes_damaged": len(where),
            "anomalies": dict(kinds),
            "fields": rows,
            "outside_strokes": len(assignment.outside),
        }
        print(json.dumps(summary, indent=2))
    if misplaced:
        print(f"plume demo: {misplaced} stroke(s) landed in the wrong field", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
