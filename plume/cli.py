"""Entry point of the ``plume`` command.

Each subcommand group lives in :mod:`plume.commands` and registers itself on
the parser. Handlers return an exit code: 0 success, 1 the work failed
(bad input, a check that did not pass), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from plume import __version__
from plume.commands import agent, demo, forms, ink, results, serve, sim, users
from plume.exit_codes import EXIT_USAGE

_GROUPS = (agent, demo, forms, ink, results, serve, sim, users)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plume",
        description="Plume: digital-pen capture and fraud checks for an open primary.",
    )
    parser.add_argument("--version", action="version", version=f"plume {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
