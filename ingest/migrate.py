"""Schema migrations of ingest, driven from code: upgrade, downgrade, current revision.

The Alembic scripts live in ``ingest/migrations`` and are found through this
package's path, so an installed plume migrates without ``alembic.ini``. The
service upgrades to head at startup (:func:`upgrade`, called by
:func:`ingest.db.create_schema`); ``plume db upgrade|current`` do it by hand.

On PostgreSQL the upgrade holds a transaction-level advisory lock, so several
ingest processes starting together migrate once and the others wait, then find
the schema at head. On SQLite the ``BEGIN IMMEDIATE`` of the engine serialises
writers the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from ingest.db import Base, make_engine

SCRIPTS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_PG_LOCK_KEY = 0x504C554D45  # "PLUME": the advisory lock of schema migrations


class MigrationError(RuntimeError):
    """The database cannot be brought to this code's schema; the message says what to do."""


def alembic_config() -> Config:
    """An Alembic configuration that points at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None, "no migration scripts in ingest/migrations/versions"
    return rev


@contextmanager
def _engine(target: Engine | str) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def current(target: Engine | str) -> str | None:
    """The revision the database is at; ``None`` for a database never migrated."""
    with _engine(target) as engine, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _check_unversioned(conn: Connection) -> None:
    """Refuse a database with our tables but no revision; forget a stamp without tables.

    Tables without a stamp come from before migrations (or another program):
    upgrading would fail half-way, so say what to do instead. A stamp whose
    tables were all dropped by hand (tests do ``Base.metadata.drop_all``) names
    a schema that is gone: the database is empty and is migrated from the start.
    """
    names = set(inspect(conn).get_table_names())
    ours = names & set(Base.metadata.tables)
    if VERSION_TABLE not in names:
        if ours:
            raise MigrationError(
                f"the database has ingest tables ({', '.join(sorted(ours))}) but no "
                "migration stamp: it was made before migrations. Move it away and start "
                "afresh, or stamp it with `alembic stamp 0001` if it matches that revision"
            )
        return
    if not ours:
        conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))


def _run(target: Engine | str, revision: str, *, down: bool) -> None:
    cfg = alembic_config()
    with _engine(target) as engine, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        if not down:
            _check_unversioned(conn)
        cfg.attributes["connection"] = conn
        try:
            if down:
                command.downgrade(cfg, revision)
            else:
                command.upgrade(cfg, revision)
        except CommandError as exc:
            raise MigrationError(
                f"cannot migrate the database to {revision}: {exc}. If it names a revision "
                "this plume does not know, the database was migrated by a newer plume: "
                "upgrade plume"
            ) from exc


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Bring the database at ``target`` (engine or URL) up to ``revision`` (default head)."""
    _run(target, revision, down=False)


def downgrade(target: Engine | str, revision: str) -> None:
    """Take the database back to ``revision`` (``base``: no tables at all). Destroys data."""
    _run(target, revision, down=True)
