"""Migrations checked against the models, on SQLite and PostgreSQL.

An empty database upgraded to head must match ``ingest.db.Base.metadata``
exactly as Alembic's autogenerate sees it (tables, columns, types, nullability,
indexes, unique and foreign keys). The models are read at test time, so a model
added without its migration fails here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from ingest import migrate
from ingest.db import Base, make_engine
from tests.pg import PG_URL, pg_reachable, reset_pg

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/migrated.db"
    else:
        if not pg_reachable():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        reset_pg(PG_URL)
        url = PG_URL
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _diff(engine: Engine, metadata: sa.MetaData = Base.metadata) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_upgrade_from_empty_matches_the_models(engine: Engine) -> None:
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert _tables(engine) >= set(Base.metadata.tables)
    diff = _diff(engine)
    assert diff == [], (
        "the models differ from the migrations; write one: alembic -c alembic.ini revision "
        f"--autogenerate (docs/operations-centre.md): {diff}"
    )


def test_a_model_without_migration_is_found(engine: Engine) -> None:
    """The comparison sees a table and a column the migrations do not make."""
    migrate.upgrade(engine)
    models = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(models)
    sa.Table("unmigrated", models, sa.Column("id", sa.Integer, primary_key=True))
    models.tables["stations"].append_column(sa.Column("added_later", sa.String(8)))
    found = {(d[0], getattr(d[-1], "name", None)) for d in _diff(engine, models)}
    assert ("add_table", "unmigrated") in found
    assert ("add_column", "added_later") in found


_RACER = """
import sys
from ingest.migrate import upgrade
print("ready", flush=True)
sys.stdin.readline()
upgrade(sys.argv[1])
"""


def test_processes_starting_together_migrate_once(engine: Engine) -> None:
    """Three processes (as three ingest servers starting) upgrade one empty database at once."""
    url = engine.url.render_as_string(hide_password=False)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:  # all imported...
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    for p in procs:  # ...then all go at once
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    assert migrate.current(engine) == migrate.head() and _diff(engine) == []


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current(engine) is None
    assert _tables(engine) - {migrate.VERSION_TABLE} == set()
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert _diff(engine) == []


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head() and _diff(engine) == []


def test_tables_without_stamp_are_refused(engine: Engine) -> None:
    Base.metadata.tables["stations"].create(engine)
    with pytest.raises(migrate.MigrationError, match="no migration stamp"):
        migrate.upgrade(engine)
    assert migrate.current(engine) is None


def test_stamp_without_tables_starts_afresh(engine: Engine) -> None:
    migrate.upgrade(engine)
    Base.metadata.drop_all(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head() and _diff(engine) == []


def test_a_newer_database_is_refused(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'from_future'"))
    with pytest.raises(migrate.MigrationError, match="upgrade plume"):
        migrate.upgrade(engine)
