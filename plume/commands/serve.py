"""``plume serve`` runs the ingest service; ``plume kits create`` issues station kits.

- ``plume serve [--host H] [--port P] [--workers N] [--no-access-log]``: uvicorn on the app from
  :func:`ingest.app.create_app`, configured by ``PLUME_`` variables
  (``PLUME_DATABASE_URL``, ``PLUME_ENVIRONMENT``, ``PLUME_SECRET_KEY``...).
  With ``--workers N`` > 1, N processes share the port (each builds its own
  app from the same variables); the schema is created once, before they start.
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
        "--workers", type=int, default=1, help="worker processes sharing the port (default 1)"
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="uvicorn's line per request (--no-access-log: the app's own events only)",
    )
    serve.set_defaults(handler=_serve)

    kits = sub.add_parser("kits", help="station kits: ids and one-time enrolment codes")

    def usage(args: argparse.Namespace) -> int:
        kits.print_help(sys.stderr)
        return EXIT_USAGE

    kits.set_defaults(handler=usage)
    verbs = kits.add_subparsers(dest="kits_command", metavar="VERB")
    create = verbs.add_parser("create", help="register stations and print their codes")
    create.add_argument("--stations", type=int, required=True, help="how many stations")
    create.add_argument("--prefix", default="ST-", help="station id prefix (default ST-)")
    create.add_argument("--out", type=Path, default=None, help="CSV file (default: stdout)")
    create.set_defaults(handler=_kits_create)


def _settings() -> Any:
    from ingest.settings import Settings

    return Settings()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ingest.app import create_app

    try:
        settings = _settings()
    except ValidationError as exc:
        print(f"plume serve: bad settings: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.workers < 1:
        print("plume serve: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, access_log=args.access_log)
        return EXIT_OK
    from ingest.db import create_schema, make_engine

    try:  # once here, not racing in every worker's startup
        engine = make_engine(settings.database_url)
        create_schema(engine)
        engine.dispose()
    except SQLAlchemyError as exc:
        print(f"plume serve: the database refuses: {exc}", file=sys.stderr)
        return EXIT_FAILED
    uvicorn.run(
        "ingest.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        access_log=args.access_log,
    )
    return EXIT_OK


def _kits_create(args: argparse.Namespace) -> int:
    from ingest.db import create_schema, make_engine
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
    except (ValidationError, SQLAlchemyError, ValueError) as exc:
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
