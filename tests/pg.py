"""The PostgreSQL URL the tests use: CI's ``test`` database, or ``PLUME_TEST_PG_URL``.

Set ``PLUME_TEST_PG_URL`` to a database of your own when several checkouts
run their tests against the same server at once.
"""

from __future__ import annotations

import os
import socket

from sqlalchemy import create_engine, text

PG_URL = os.environ.get("PLUME_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_reachable() -> bool:
    """Whether something listens on PostgreSQL's port on loopback."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return False
    return True


def reset_pg(url: str) -> None:
    """Empty the test database completely: every table, the migration stamp included."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
