"""``plume serve`` runs the ingest service; ``plume kits create`` issues station kits.

- ``plume serve [--host H] [--port P] [--log-format json|console]``: uvicorn on
  the app from :func:`ingest.app.create_app`, configured by ``PLUME_`` variables
  (``PLUME_DATABASE_URL``, ``PLUME_ENVIRONMENT``, ``PLUME_SECRET_KEY``...). It
  upgrades the database to the newest migration before it listens, and refuses
  to start (exit 1) on a database it cannot migrate (docs/operations-centre.md).
- ``plume db upgrade [--revision R]`` / ``plume db current``: migrate the database
  by hand, or print its revision and whether it is at head.
- ``plume kits create --stations N [--prefix P] [--out kits.csv]``: registers N
  stations in the database and writes each one's one-time enrolment code (CSV:
  ``station_id,enrolment_code``). The codes are shown once; only hashes are kept.

Exit codes: 0 done, 1 bad settings or a database/file error, 2 a bad command line.
"""

from __future__ import annotations

import argparse
import csv
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

    try:
        settings = _settings()
    except ValidationError as exc:
        print(f"plume serve: bad settings: {exc}", file=sys.stderr)
        return EXIT_FAILED
    fmt: LogFormat = args.log_format or (
        "console" if settings.environment == "development" else "json"
    )
    configure_logging(fmt)
    try:  # before listening: a database that cannot be migrated stops here, clearly
        upgrade(settings.database_url)
    except (MigrationError, SQLAlchemyError) as exc:
        print(f"plume serve: the database cannot be used: {exc}", file=sys.stderr)
        return EXIT_FAILED
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)
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
    from ingest.migrate import MigrationError
    from ingest.stations import create_kits

    if args.stations < 1:
        print("plume kits create: --stations must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = _settings()
        engine = make_engine(settings.database_url)
        create_schema(engine)
        ids = [f"{args.prefix}{i:05d}" for i in range(1, args.stations + 1)]
        codes = create_kits(engine, ids)
    except (ValidationError, SQLAlchemyError, ValueError, MigrationError) as exc:
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
