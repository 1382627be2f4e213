"""``plume serve`` runs the ingest service; ``plume kits create`` issues station kits.

- ``plume serve [--host H] [--port P] [--workers N] [--no-access-log]
  [--log-format json|console]``: uvicorn on the app from
  :func:`ingest.app.create_app`, configured by ``PLUME_`` variables
  (``PLUME_DATABASE_URL``, ``PLUME_ENVIRONMENT``, ``PLUME_SECRET_KEY``...). It
  upgrades the database to the newest migration before it listens, and refuses
  to start (exit 1) on a database it cannot migrate (docs/operations-centre.md).
  With ``--workers N`` > 1, N processes share the port (each builds its own
  app from the same variables).
- ``plume db upgrade [--revision R]`` / ``plume db current``: migrate the database
  by hand, or print its revision and whether it is at head.
- ``plume kits create --stations N [--prefix P] [--out kits.csv]``: registers N
  stations in the database and writes each one's one-time enrolment code (CSV:
  ``station_id,enrolment_code``). The codes are shown once; only hashes are kept.
  With ``--pv-start S.H.B.P`` station k (from 0) is issued PV page ``S.H.B.P+k``;
  with ``--contact-start S.H.B.P --contact-pages M`` contact pages ``S.H.(B+k).P``
  .. ``P+M-1``; with ``--pens K`` pens ``<station>-P1`` .. ``-PK``. With ``--sim``
  the stations are N simulated ones (``hardware_sim``, ``--seed``) with the PV page,
  contact sheets (``--contact-pages``, default 400) and pens the simulator uses.

Exit codes: 0 done, 1 bad settings or a database/file error, 2 a bad command line.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the central ingest service")
    serve.add_argument("--host", default=None, help="address to listen on (PLUME_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (PLUME_PORT)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the port (default 1)"
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a log line per request (--no-access-log: the app's own events only)",
    )
    serve.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=None,
        help="log lines: json (default outside development) or console",
    )
    serve.set_defaults(handler=_serve)

    db = sub.add_parser("db", help="database schema migrations")
    db.set_defaults(handler=lambda args: _usage(db))
    db_verbs = db.add_subparsers(dest="db_command", metavar="VERB")
    up = db_verbs.add_parser("upgrade", help="migrate the database (default: to head)")
    up.add_argument("--revision", default="head", help="target revision (default head)")
    up.set_defaults(handler=_db_upgrade)
    cur = db_verbs.add_parser("current", help="print the revision of the database")
    cur.set_defaults(handler=_db_current)

    kits = sub.add_parser("kits", help="station kits: ids and one-time enrolment codes")

    kits.set_defaults(handler=lambda args: _usage(kits))
    verbs = kits.add_subparsers(dest="kits_command", metavar="VERB")
    create = verbs.add_parser("create", help="register stations and print their codes")
    create.add_argument("--stations", type=int, required=True, help="how many stations")
    create.add_argument("--prefix", default="ST-", help="station id prefix (default ST-)")
    create.add_argument("--out", type=Path, default=None, help="CSV file (default: stdout)")
    create.add_argument("--pv-start", default=None, help="PV page of the first station, S.H.B.P")
    create.add_argument(
        "--contact-start", default=None, help="first contact page of the first station, S.H.B.P"
    )
    create.add_argument("--contact-pages", type=int, default=None, help="contact pages per station")
    create.add_argument("--pens", type=int, default=0, help="pens per station")
    create.add_argument(
        "--sim", action="store_true", help="simulated stations with their own pages and pens"
    )
    create.add_argument("--seed", type=int, default=0, help="which simulated stations (--sim)")
    create.set_defaults(handler=_kits_create)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _settings() -> Any:
    from ingest.settings import Settings

    return Settings()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ingest.app import create_app
    from ingest.migrate import MigrationError, upgrade
    from ingest.observability import LogFormat, configure_logging

    if not args.access_log:  # in the environment, so --workers processes see it too
        os.environ["PLUME_REQUEST_LOG"] = "false"
    try:
        settings = _settings()
    except ValidationError as exc:
        print(f"plume serve: bad settings: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.workers < 1:
        print("plume serve: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    fmt: LogFormat = args.log_format or (
        "console" if settings.environment == "development" else "json"
    )
    configure_logging(fmt)
    try:  # before listening, once: a database that cannot be migrated stops here, clearly
        upgrade(settings.database_url)
    except (MigrationError, SQLAlchemyError) as exc:
        print(f"plume serve: the database cannot be used: {exc}", file=sys.stderr)
        return EXIT_FAILED
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)
        return EXIT_OK
    uvicorn.run(
        "ingest.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_config=None,
        access_log=False,
    )
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace) -> int:
    from ingest.migrate import MigrationError, current, upgrade

    try:
        url = _settings().database_url
        upgrade(url, args.revision)
        print(f"database at revision {current(url)}")
    except (ValidationError, MigrationError, SQLAlchemyError) as exc:
        print(f"plume db upgrade: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _db_current(args: argparse.Namespace) -> int:
    """Print the revision; exit 1 when it is not this plume's head (scripts can test it)."""
    from ingest.migrate import current, head

    try:
        rev = current(_settings().database_url)
    except (ValidationError, SQLAlchemyError) as exc:
        print(f"plume db current: {exc}", file=sys.stderr)
        return EXIT_FAILED
    newest = head()
    state = "at head" if rev == newest else f"behind or unknown: head is {newest}"
    print(f"{rev or 'none (empty database)'} ({state})")
    return EXIT_OK if rev == newest else EXIT_FAILED


def _kits_create(args: argparse.Namespace) -> int:
    from ingest.db import create_schema, make_engine
    from ingest.kits import KitError
    from ingest.migrate import MigrationError
    from pen.errors import PenError

    if args.stations < 1:
        print("plume kits create: --stations must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if (args.contact_pages is not None and args.contact_pages < 0) or args.pens < 0:
        print("plume kits create: --contact-pages and --pens take 0 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = _settings()
        engine = make_engine(settings.database_url)
        create_schema(engine)
        codes = _sim_kits(engine, args) if args.sim else _plain_kits(engine, args)
    except (
        ValidationError,
        SQLAlchemyError,
        KitError,
        PenError,
        ValueError,
        MigrationError,
    ) as exc:
        print(f"plume kits create: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["station_id", "enrolment_code"])
        writer.writerows(codes.items())
    finally:
        if args.out:
            out.close()
    print(f"{len(codes)} kits created; keep the codes safe, they are shown once", file=sys.stderr)
    return EXIT_OK


def _sim_kits(engine: Any, args: argparse.Namespace) -> dict[str, str]:
    from hardware_sim.stations import pick_stations
    from plume.sim_kits import CONTACT_SHEETS, create_sim_kits

    sheets = CONTACT_SHEETS if args.contact_pages is None else args.contact_pages
    return create_sim_kits(engine, pick_stations(args.stations, seed=args.seed), sheets)


def _plain_kits(engine: Any, args: argparse.Namespace) -> dict[str, str]:
    from ingest.kits import issue_pages, issue_pen
    from ingest.stations import create_kits
    from pen.page import PageAddress

    ids = [f"{args.prefix}{i:05d}" for i in range(1, args.stations + 1)]
    pv = PageAddress.parse(args.pv_start) if args.pv_start else None
    contact = PageAddress.parse(args.contact_start) if args.contact_start else None
    n_contact = 0 if args.contact_pages is None else args.contact_pages
    if contact is not None and n_contact < 1:
        raise ValueError("--contact-start needs --contact-pages (1 or more)")
    last = args.stations - 1
    if pv is not None and pv.page + last > 0xFFFF:
        raise ValueError(f"--pv-start {pv} leaves no room for {args.stations} PV pages in its book")
    if contact is not None and (
        contact.book + last > 0xFFFF or contact.page + n_contact - 1 > 0xFFFF
    ):
        raise ValueError(f"--contact-start {contact} leaves no room for these contact pages")
    codes = create_kits(engine, ids)
    for k, sid in enumerate(ids):
        if pv is not None:
            page = pv.page + k
            issue_pages(engine, sid, "pv", pv.segment, pv.shelf, pv.book, page, page)
        if contact is not None:
            issue_pages(
                engine, sid, "contact", contact.segment, contact.shelf, contact.book + k,
                contact.page, contact.page + n_contact - 1,
            )  # fmt: skip
        for j in range(1, args.pens + 1):
            issue_pen(engine, sid, f"{sid}-P{j}")
    return codes
