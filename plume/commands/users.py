"""``plume users``: people and services that call the ingest API with a token.

- ``plume users create --name N --role R [--departement D] [--station S] [--days 30]``
  creates the user and prints its token once on stdout (only a hash is kept).
- ``plume users token --name N [--days 30]``: one more token for a user.
- ``plume users list [--json]``: users, roles, scopes, live tokens.
- ``plume users revoke --name N``: disables the user and revokes its tokens.

The database is ``PLUME_DATABASE_URL``. Every change is in the audit log, by
``cli:<login>``. Exit codes: 0 done, 1 refused (bad role, unknown user,
database error), 2 a bad command line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from plume.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

_ROLES = ("high_authority", "federation", "station", "reviewer", "coordinator")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("users", help="API users, roles and tokens")

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)
    verbs = p.add_subparsers(dest="users_command", metavar="VERB")

    create = verbs.add_parser("create", help="create a user and print its token once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=_ROLES)
    create.add_argument("--departement", default=None, help="federation's département")
    create.add_argument("--station", default=None, help="a station user's station id")
    create.add_argument("--days", type=int, default=30, help="token lifetime (default 30)")
    create.set_defaults(handler=_create)

    token = verbs.add_parser("token", help="issue one more token for a user")
    token.add_argument("--name", required=True)
    token.add_argument("--days", type=int, default=30, help="token lifetime (default 30)")
    token.set_defaults(handler=_token)

    lst = verbs.add_parser("list", help="list users and their live tokens")
    lst.add_argument("--json", action="store_true", help="one JSON document on stdout")
    lst.set_defaults(handler=_list)

    revoke = verbs.add_parser("revoke", help="disable a user and revoke its tokens")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(handler=_revoke)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _engine() -> Engine:
    from ingest.db import create_schema, make_engine
    from ingest.settings import Settings

    engine = make_engine(Settings().database_url)
    create_schema(engine)
    return engine


def _run(verb: str, work: Any) -> int:
    from ingest.auth import UserError

    try:
        return int(work(_engine()))
    except (UserError, ValidationError, SQLAlchemyError) as exc:
        print(f"plume users {verb}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _create(args: argparse.Namespace) -> int:
    from ingest.auth import create_user

    def work(engine: Engine) -> int:
        token = create_user(
            engine,
            args.name,
            args.role,
            departement=args.departement,
            station_id=args.station,
            days=args.days,
            actor=_actor(),
        )
        print(token)
        print(f"user {args.name} created; the token is shown once, keep it safe", file=sys.stderr)
        return EXIT_OK

    return _run("create", work)


def _token(args: argparse.Namespace) -> int:
    from ingest.auth import issue_token

    def work(engine: Engine) -> int:
        print(issue_token(engine, args.name, days=args.days, actor=_actor()))
        return EXIT_OK

    return _run("token", work)


def _list(args: argparse.Namespace) -> int:
    from ingest.auth import list_users

    def work(engine: Engine) -> int:
        users = list_users(engine)
        if args.json:
            print(json.dumps([u.__dict__ for u in users], indent=2))
            return EXIT_OK
        print(f"{'name':<24} {'role':<15} {'scope':<12} {'enabled':<8} live tokens")
        for u in users:
            scope = u.station_id or u.departement or "national"
            print(f"{u.name:<24} {u.role:<15} {scope:<12} {u.enabled!s:<8} {u.live_tokens}")
        return EXIT_OK

    return _run("list", work)


def _revoke(args: argparse.Namespace) -> int:
    from ingest.auth import revoke_user

    def work(engine: Engine) -> int:
        n = revoke_user(engine, args.name, actor=_actor())
        print(f"user {args.name} revoked ({n} live tokens revoked)", file=sys.stderr)
        return EXIT_OK

    return _run("revoke", work)
