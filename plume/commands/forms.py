"""``plume forms``: placeholder until its module lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("forms", help="(not built yet)")
    p.set_defaults(handler=lambda args: 2)
