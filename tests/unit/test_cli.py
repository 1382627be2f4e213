"""The ``plume`` entry point: every command found, only the needed module imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from plume.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _commands(parser: object) -> set[str]:
    sub = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
    return set(sub.choices)


def test_the_map_names_exactly_the_commands_the_modules_register() -> None:
    assert _commands(build_parser()) == set(COMMANDS)
    for command, module in COMMANDS.items():
        registered = _commands(build_parser(command))
        assert command in registered
        assert registered == {c for c, m in COMMANDS.items() if m == module}


def test_a_command_imports_only_its_module() -> None:
    probe = (
        "import sys; from plume.cli import build_parser; build_parser('agent'); "
        "print(sorted(m for m in ('reportlab', 'reconciliation', 'ingest', 'ocr') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_no_command_prints_help_and_exits_2() -> None:
    assert main([]) == 2
