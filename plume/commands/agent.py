"""``plume agent``: the station agent on the president's laptop.

- ``plume agent run [--port URL|auto] [--usb-id VID:PID ...] --journal PATH [--lang fr|en]
  [--kit SERIAL ...]`` reads the pen at ``URL`` (a device path or a pyserial URL:
  ``pensim://``, ``socket://``, ``spy://``; by default ``auto``, the one serial port
  whose USB id is a known pen's, see :mod:`station_agent.usb`) into the journal and
  shows the president's screen until Ctrl-C or SIGTERM. ``--events`` prints one JSON line per link
  event instead of the screen (for logs and tests).
  With ``--centre URL --station ID`` it also uploads the journal in a background
  thread and shows the upload backlog and the last acknowledgement.
- ``plume agent enrol --station ID --code CODE --centre URL --journal PATH``
  creates the station key next to the journal and registers it with the centre.
- ``plume agent status --journal PATH [--json]`` prints what the journal holds.
- ``plume agent close --journal PATH --centre URL --station ID [--token T]`` journals
  a ``StationClosed`` note, uploads everything pending, prints the closing code
  for the paper PV, then (best effort, never blocking) the PV values as the
  centre read them.

Exit codes: 0 done, 1 failed (the journal cannot be opened, the centre refused or
cannot be reached, no station key), 2 a bad command line.
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

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.live import Live

from pen.batches import closing_code
from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from station_agent.clock import RehearsalClock, laptop_ms
from station_agent.closing import UploadLoop, UploadStatus, flush, note_closed
from station_agent.identity import EnrolError, enrol, key_path, load_or_create_key
from station_agent.journal import Journal, JournalError
from station_agent.logs import LOG_FILE, log_link_event, log_path, log_upload
from station_agent.logs import configure as configure_logs
from station_agent.pen_link import LinkEvent, PenLink, serial_opener
from station_agent.results import READING_MESSAGES, fetch_reading
from station_agent.screen import ScreenState, apply, apply_upload, render, with_backlog
from station_agent.uploader import Uploader
from station_agent.usb import ENV_IDS, configured_ids, usb_opener

HTTP_TIMEOUT_S = 10.0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("agent", help="the station agent (pen to journal)")
    _add_verbs(p)


def main(argv: list[str] | None = None) -> int:
    """``python -m plume.commands.agent VERB ...``: the same verbs as ``plume agent``.

    The laptop's entry point (deploy/plume-agent.service): it loads only what the
    agent needs, not every ``plume`` command (about 25 MB less resident memory).
    """
    parser = argparse.ArgumentParser(prog="plume agent", description="the station agent")
    _add_verbs(parser)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def _add_verbs(p: argparse.ArgumentParser) -> None:
    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="agent_command", metavar="VERB")

    run = verbs.add_parser("run", help="read the pen into the journal and show the screen")
    run.add_argument(
        "--port",
        default="auto",
        help="device path, pyserial URL, or 'auto' (default): the pen found by its USB id",
    )
    run.add_argument(
        "--usb-id",
        action="append",
        metavar="VID:PID",
        help=f"USB id of the kit's pen model, for --port auto (or {ENV_IDS}); repeatable",
    )
    run.add_argument("--journal", type=Path, required=True, help="SQLite journal file")
    run.add_argument("--lang", choices=("fr", "en"), default="fr", help="screen language")
    run.add_argument(
        "--kit", action="append", metavar="SERIAL", help="serial of a pen of the station kit"
    )
    run.add_argument("--events", action="store_true", help="print JSON lines, not the screen")
    run.add_argument(
        "--log",
        help=f"JSON-lines log file (default: {LOG_FILE} beside the journal); '-': the console",
    )
    run.add_argument("--centre", help="centre URL: upload the journal while running")
    run.add_argument("--station", help="station id (with --centre)")
    _clock_option(run)
    run.set_defaults(handler=_run)

    en = verbs.add_parser("enrol", help="create the station key and register it with the centre")
    en.add_argument("--station", required=True, help="station id from the kit")
    en.add_argument("--code", required=True, help="one-time enrolment code from the kit")
    en.add_argument("--centre", required=True, help="centre URL")
    en.add_argument("--journal", type=Path, required=True, help="SQLite journal file")
    en.set_defaults(handler=_enrol)

    close = verbs.add_parser("close", help="upload everything, then print the closing code")
    close.add_argument("--journal", type=Path, required=True, help="SQLite journal file")
    close.add_argument("--centre", required=True, help="centre URL")
    close.add_argument("--station", required=True, help="station id")
    close.add_argument("--token", help="user token to show the PV values the centre read")
    _clock_option(close)
    close.set_defaults(handler=_close)

    status = verbs.add_parser("status", help="what the journal holds")
    status.add_argument("--journal", type=Path, required=True, help="SQLite journal file")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)


def _clock_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rehearsal-clock",
        type=_rehearsal_clock,
        default=laptop_ms,
        metavar="T0_MS,WALL0_S,SPEED",
        help="rehearsals only: the day's clock instead of the laptop's (station_agent/clock.py)",
    )


def _rehearsal_clock(text: str) -> RehearsalClock:
    try:
        return RehearsalClock.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _err(message: str) -> None:
    print(f"plume agent: {message}", file=sys.stderr)


def _station_key(journal_path: Path) -> Ed25519PrivateKey | None:
    path = key_path(journal_path)
    if not path.exists():
        _err(f"no station key at {path}: enrol first with 'plume agent enrol'")
        return None
    try:
        return load_or_create_key(path)
    except (EnrolError, ValueError) as exc:
        _err(f"cannot read the station key {path}: {exc}")
        return None


def _run(args: argparse.Namespace) -> int:
    if args.port.startswith("pensim://"):  # the simulator only when asked: a faster start
        from hardware_sim.url_handler import register as register_pensim

        register_pensim()
    if bool(args.centre) != bool(args.station):
        _err("--centre and --station go together")
        return EXIT_USAGE
    if args.port == "auto":
        try:
            ids = configured_ids(args.usb_id)
        except ValueError as exc:
            _err(f"--usb-id: {exc}")
            return EXIT_USAGE
        if not ids:
            _err(
                f"--port auto finds the pen by its USB id: give --usb-id VID:PID (lsusb shows "
                f"it) or set {ENV_IDS}, or give --port PATH"
            )
            return EXIT_USAGE
        opener = usb_opener(ids, lambda dev: serial_opener(dev)())
    else:
        opener = serial_opener(args.port)
    key = _station_key(args.journal) if args.centre else None
    if args.centre and key is None:
        return EXIT_FAILED
    try:
        journal = Journal.open(args.journal)
    except JournalError as exc:
        _err(str(exc))
        return EXIT_FAILED
    log_to = None if args.log == "-" else Path(args.log) if args.log else log_path(args.journal)
    log_stream = configure_logs(log_to)
    log = structlog.get_logger("station_agent")
    log.info("agent.started", port=args.port, journal=str(args.journal), centre=args.centre,
             station=args.station, kit=args.kit or [])  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    link = PenLink(
        journal, opener, port_name=args.port, known_pens=args.kit, clock_ms=args.rehearsal_clock
    )
    state = with_backlog(ScreenState(), journal.backlog())
    lock = threading.Lock()
    refresh: list[Any] = []  # the Live display, once started
    http = httpx.Client(timeout=HTTP_TIMEOUT_S) if args.centre else None

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # backoff that a stop interrupts

    def make_uploader() -> Uploader:
        assert http is not None and key is not None
        # its own journal connection: the journal is not thread-safe
        own = Journal.open(args.journal)
        return Uploader(own, args.station, key, args.centre, http, sleep=pause)

    def on_upload(st: UploadStatus) -> None:
        nonlocal state
        with lock:
            state = apply_upload(state, st.backlog, st.last_status, st.last_ack_seq, st.last_ack_ms)
            if st.last_status != "idle":
                log_upload(log, st.last_status, st.seq, st.code, st.backlog)
            if args.events:
                print(json.dumps({"event": "Upload", **dataclasses.asdict(st)}), flush=True)
            elif refresh:
                refresh[0].update(render(state, args.lang), refresh=True)

    loop = (
        UploadLoop(make_uploader, stop, on_upload, args.rehearsal_clock)
        if http is not None
        else None
    )
    try:
        with journal:
            if loop is not None:
                loop.start()
            if args.events:

                def emit(event: LinkEvent) -> None:
                    line = {"event": type(event).__name__, **dataclasses.asdict(event)}
                    with lock:
                        log_link_event(log, event)
                        print(json.dumps(line), flush=True)

                link.run(stop, emit)
                return EXIT_OK
            with Live(render(state, args.lang), console=Console(), auto_refresh=False) as live:
                refresh.append(live)

                def show(event: LinkEvent) -> None:
                    nonlocal state
                    with lock:
                        log_link_event(log, event)
                        state = with_backlog(apply(state, event), journal.backlog())
                        live.update(render(state, args.lang), refresh=True)

                link.run(stop, show)
                with lock:
                    refresh.clear()
    finally:
        stop.set()
        if loop is not None:
            loop.join(timeout=HTTP_TIMEOUT_S * 2)
        if http is not None:
            http.close()
        log.info("agent.stopped")
        if log_stream is not sys.stderr:
            log_stream.close()
    return EXIT_OK


def _enrol(args: argparse.Namespace) -> int:
    args.journal.parent.mkdir(parents=True, exist_ok=True)
    path = key_path(args.journal)
    try:
        key = load_or_create_key(path)
        with httpx.Client(base_url=args.centre, timeout=HTTP_TIMEOUT_S) as http:
            result = enrol(http, args.station, args.code, key)
    except EnrolError as exc:
        _err(f"enrolment refused by the centre: {exc}")
        return EXIT_FAILED
    except ValueError as exc:
        _err(f"cannot read the station key {path}: {exc}")
        return EXIT_FAILED
    what = "enrolled" if result.created else "already enrolled with this key (nothing changed)"
    print(f"station {result.station_id} {what}; key {path} (keep it on this laptop)")
    return EXIT_OK


def _close(args: argparse.Namespace) -> int:
    if not args.journal.exists():
        _err(f"no journal at {args.journal}: check the path given to 'plume agent run'")
        return EXIT_FAILED
    key = _station_key(args.journal)
    if key is None:
        return EXIT_FAILED
    try:
        journal = Journal.open(args.journal)
    except JournalError as exc:
        _err(str(exc))
        return EXIT_FAILED
    with journal, httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        note_closed(journal, args.rehearsal_clock())  # before the flush: the centre reads it
        uploader = Uploader(journal, args.station, key, args.centre, http)
        try:
            result = flush(uploader, now_ms=args.rehearsal_clock)
        finally:
            uploader.close()
        if not result.complete:
            last = result.last
            if last.status == "unavailable":
                why = f"the centre at {args.centre} cannot be reached"
            else:
                why = f"the centre refused batch {last.seq}: [{last.code}] {last.message}"
            _err(
                f"not closed: {why}; {result.backlog} event(s) still waiting, nothing is lost. "
                "Run 'plume agent close' again when the centre answers."
            )
            return EXIT_FAILED
        print(f"all events acknowledged by the centre (last batch #{result.head_seq})")
        print(f"chain head {result.head_hash}")
        print(f"closing code: {closing_code(result.head_hash)}  (write it on the paper PV)")
        reading = fetch_reading(http, args.centre, args.station, args.token)
    if reading.status == "read":
        print("PV values as the centre read them:")
        for line in reading.lines:
            print(f"  {line}")
    else:
        print(f"PV values: {READING_MESSAGES[reading.status]}")
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


if __name__ == "__main__":
    sys.exit(main())
