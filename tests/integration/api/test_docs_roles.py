"""docs/api.md's route-by-role table says exactly what the code decides."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.access import RoleDecision, api_routes, decisions
from ingest.app import create_app
from ingest.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE) (/[^`]*)` \|(.*)\|\s*$")


def _documented() -> dict[tuple[str, str], set[str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| route | high_authority"))
    roles = [c.strip() for c in header.strip("|").split("|")][1:]
    table = {}
    for line in lines:
        m = ROW.match(line)
        if m:
            cells = [c.strip() for c in m.group(3).split("|")]
            table[(m.group(1), m.group(2))] = {r for r, c in zip(roles, cells, strict=True) if c}
    return table


def _decided() -> dict[tuple[str, str], set[str]]:
    app = create_app(Settings(database_url="sqlite://"))
    out = {}
    for path, methods, dependant in api_routes(app):
        for call in decisions(dependant):
            if isinstance(call, RoleDecision):
                out.update({(m, path): {str(r) for r in call.roles} for m in methods})
    return out


def test_the_roles_table_matches_the_code() -> None:
    documented, decided = _documented(), _decided()
    assert len(decided) >= 17
    assert documented == decided
