"""The PostgreSQL URL the tests use: CI's ``test`` database, or ``PLUME_TEST_PG_URL``.

Set ``PLUME_TEST_PG_URL`` to a database of your own when several checkouts
run their tests against the same server at once.
"""

from __future__ import annotations

import os

PG_URL = os.environ.get("PLUME_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
