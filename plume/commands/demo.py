"""``plume demo``: the README's main command.

- ``plume demo [--stations N] [--day-seconds S] [--out DIR] [--serve] [--json]``
  runs a compressed election day end to end (:mod:`plume.demo.election`):
  ingest, N simulated pens on pty ports, one real agent per station, closing,
  recognition, reconciliation, and a national summary.
- ``plume demo --wire-only`` runs one PV through the pen's wire protocol,
  offline, in seconds (:mod:`plume.demo_wire`).

Exit codes: 0 done, 1 a part failed (the message says which), 2 a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from plume import demo_wire
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run a compressed election day end to end on this machine"
    )
    p.add_argument("--out", type=Path, default=Path("plume-demo"), help="folder for the outputs")
    p.add_argument("--seed", type=int, default=2011, help="seed of the simulation")
    p.add_argument("--stations", type=int, default=20, help="simulated stations (default 20)")
    p.add_argument(
        "--day-seconds",
        type=float,
        default=75.0,
        help="wall-clock seconds the polling day lasts (default 75)",
    )
    p.add_argument("--serve", action="store_true", help="keep the centre serving after the summary")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--wire-only",
        action="store_true",
        help="only one PV through the pen's wire protocol, offline (seconds)",
    )
    p.add_argument(
        "--noise", type=int, default=3, help="--wire-only: bytes damaged on the line (default 3)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.wire_only:
        return demo_wire.run(args)
    if args.stations < 1 or args.day_seconds <= 0:
        print("plume demo: --stations must be >= 1 and --day-seconds > 0", file=sys.stderr)
        return EXIT_USAGE
    from plume.demo.election import DemoError, run_election

    console = Console(stderr=args.json, highlight=False)
    try:
        result = run_election(
            args.out, args.stations, args.seed, args.day_seconds, console, args.serve
        )
    except DemoError as exc:
        print(f"plume demo: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"plume demo: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        import json

        print(json.dumps(result, indent=2))
    return EXIT_OK if not result["close_errors"] else EXIT_FAILED
