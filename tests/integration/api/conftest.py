"""Fixtures of the API tests: ``db_url`` (SQLite and PostgreSQL) and ``client`` (real app)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.db import Base, make_engine
from ingest.settings import Settings
from tests.pg import PG_URL


def _pg_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ingest.db"
    if not _pg_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    engine = make_engine(PG_URL)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url))
    with TestClient(app) as c:
        yield c
