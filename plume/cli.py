"""Entry point of the ``plume`` command.

Each subcommand group lives in :mod:`plume.commands` and registers itself on
the parser. Handlers return an exit code: 0 success, 1 the work failed
(bad input, a check that did not pass), 2 usage error.

Only the module of the command being run is imported (``plume agent ...``
loads the agent, not the reports' PDF library): a station laptop's agent
starts faster and stays smaller. ``plume`` alone, or ``plume --help``,
imports them all to list them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from plume import __version__
from plume.exit_codes import EXIT_USAGE

#: Top-level command -> the module of :mod:`plume.commands` that registers it.
COMMANDS = {
    "agent": "agent",
    "db": "serve",
    "demo": "demo",
    "forms": "forms",
    "ink": "ink",
    "kits": "serve",
    "results": "results",
    "scans": "scans",
    "serve": "serve",
    "sim": "sim",
    "users": "users",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only the group that registers it is imported."""
    parser = argparse.ArgumentParser(
        prog="plume",
        description="Plume: digital-pen capture and fraud checks for an open primary.",
    )
    parser.add_argument("--version", action="version", version=f"plume {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [COMMANDS[command]] if command in COMMANDS else sorted(set(COMMANDS.values()))
    for name in wanted:
        importlib.import_module(f"plume.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    first = args_in[0] if args_in else None
    parser = build_parser(first)
    args = parser.parse_args(args_in)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
