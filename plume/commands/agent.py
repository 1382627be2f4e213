"""``plume agent``: the station agent on the president's laptop.

- ``plume agent run --port URL --journal PATH [--lang fr|en] [--kit SERIAL ...]``
  reads the pen at ``URL`` (a device path or a pyserial URL: ``pensim://``,
  ``socket://``, ``spy://``) into the journal and shows the president's
  screen until Ctrl-C or SIGTERM. ``--events`` prints one JSON line per link
  event instead of the screen (for logs and tests).
- ``plume agent status --journal PATH [--json]`` prints what the journal holds.

Exit codes: 0 done, 1 the journal cannot be opened, 2 a bad command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from hardware_sim.url_handler import register as register_pensim
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from station_agent.journal import Journal, JournalError
from station_agent.pen_link import LinkEvent, PenLink, serial_opener
from station_agent.screen import ScreenState, apply, render


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("agent", help="the station agent (pen to journal)")

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="agent_command", metavar="VERB")

    run = verbs.add_parser("run", help="read the pen into the journal and show the screen")
    run.add_argument("--port", required=True, help="device path or pyserial URL")
    run.add_argument("--journal", type=Path, required=True, help="SQLite journal file")
    run.add_argument("--lang", choices=("fr", "en"), default="fr", help="screen language")
    run.add_argument(
        "--kit", action="append", metavar="SERIAL", help="serial of a pen of the station kit"
    )
    run.add_argument("--events", action="store_true", help="print JSON lines, not the screen")
    run.set_defaults(handler=_run)

    status = verbs.add_parser("status", help="what the journal holds")
    status.add_argument("--journal", type=Path, required=True, help="SQLite journal file")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)


def _err(message: str) -> None:
    print(f"plume agent: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    register_pensim()
    try:
        journal = Journal.open(args.journal)
    except JournalError as exc:
        _err(str(exc))
        return EXIT_FAILED
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    link = PenLink(journal, serial_opener(args.port), port_name=args.port, known_pens=args.kit)
    state = ScreenState(backlog=journal.backlog())
    with journal:
        if args.events:

            def emit(event: LinkEvent) -> None:
                line = {"event": type(event).__name__, **dataclasses.asdict(event)}
                print(json.dumps(line), flush=True)

            link.run(stop, emit)
            return EXIT_OK
        with Live(render(state, args.lang), console=Console(), auto_refresh=False) as live:

            def show(event: LinkEvent) -> None:
                nonlocal state
                state = dataclasses.replace(apply(state, event), backlog=journal.backlog())
                live.update(render(state, args.lang), refresh=True)

            link.run(stop, show)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    if not args.journal.exists():
        _err(f"no journal at {args.journal}: check the path given to 'plume agent run'")
        return EXIT_FAILED
    try:
        with Journal.open(args.journal) as journal:
            stats = journal.stats()
            integrity = journal.integrity_check()
    except JournalError as exc:
        _err(str(exc))
        return EXIT_FAILED
    data = {**dataclasses.asdict(stats), "integrity": integrity}
    if args.json:
        print(json.dumps(data))
    else:
        for key, value in data.items():
            shown = ", ".join(value) if isinstance(value, tuple | list) else value
            print(f"{key:12} {shown}")
    return EXIT_OK if integrity == "ok" else EXIT_FAILED
