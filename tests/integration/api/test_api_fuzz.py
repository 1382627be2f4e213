"""Property-based API testing (schemathesis) of the read, review and export routes.

Generated requests, with a high authority's token, over a seeded SQLite
database: no route answers 5xx, and every 4xx has the one error shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from ingest.app import create_app
from ingest.settings import Settings
from tests.api_world import make_users, seed

_MINE = (
    "/v1/me",
    "/v1/results",
    "/v1/stations",
    "/v1/findings",
    "/v1/review",
    "/v1/audit",
    "/v1/exports",
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    db: Path = tmp_path_factory.mktemp("fuzz") / "ingest.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}"))
    with TestClient(app):  # runs the lifespan: the schema exists
        headers = make_users(app.state.engine)["ha"]
        seed(app.state.engine)
        yield app, headers


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [result.ok() for result in schema.get_all_operations()]
    station_writes = ("enrol", "batches")  # the station protocol's own routes, tested elsewhere
    return [
        op
        for op in ops
        if op.path.startswith(_MINE)
        and not (op.method.upper() == "POST" and op.path.endswith(station_writes))
    ]


@pytest.mark.slow
def test_no_server_errors(seeded: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = seeded
    ops = _operations(app)
    assert len(ops) >= 15

    for op in ops:

        @given(case=op.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert set(error) == {"code", "message", "details"} and error["message"]

        call()
