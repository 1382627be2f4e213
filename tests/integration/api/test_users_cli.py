"""``plume users create|token|list|revoke``, and its tokens over the API.

``create`` runs as a real process once; the other verbs run ``plume.cli.main``
in this process (same code, without paying an interpreter start each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.settings import Settings
from plume.cli import main

ROOT = Path(__file__).resolve().parents[3]


def _plume(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLUME_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "plume", "users", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_users_cli_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path}/users.db"
    made = _plume(db, "create", "--name", "paris", "--role", "federation", "--departement", "75")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("plm_") and "shown once" in made.stderr

    monkeypatch.setenv("PLUME_DATABASE_URL", db)

    def plume(*args: str) -> tuple[int, str, str]:
        code = main(["users", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = plume("create", "--name", "x", "--role", "federation")
    assert code == 1 and "needs --departement" in err
    with pytest.raises(SystemExit) as usage:
        plume("create", "--name", "x")  # argparse: --role missing
    assert usage.value.code == 2

    listed = json.loads(plume("list", "--json")[1])
    assert [(u["name"], u["departement"], u["live_tokens"]) for u in listed] == [("paris", "75", 1)]

    with TestClient(create_app(Settings(database_url=db))) as c:
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get("/v1/me", headers=auth).json()["departement"] == "75"
        code, _, err = plume("revoke", "--name", "paris")
        assert code == 0 and "1 live tokens revoked" in err
        assert c.get("/v1/me", headers=auth).status_code == 401
    assert plume("token", "--name", "paris")[0] == 1  # revoked: no new token
    assert plume("revoke", "--name", "nobody")[0] == 1
