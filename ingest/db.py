"""Storage of ingest: SQLAlchemy 2 typed models and the engine factory.

SQLite (WAL, synchronous=FULL, ``BEGIN IMMEDIATE`` so writers queue instead of
failing) by default; PostgreSQL by URL. Stored batches are immutable: the ORM
refuses to update or delete them. Nothing connects until first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pen.batches import GENESIS_HASH

_BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every ingest table."""


class Station(Base):
    """A polling station from its kit; enrolled once it has registered a public key."""

    __tablename__ = "stations"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enrol_code_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 hex of the one-time enrolment code; the code itself is never stored."""
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    """Raw Ed25519 public key, set once at enrolment."""
    enrolled_at_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """Seq of the last accepted batch (0: none yet)."""
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class StoredBatch(Base):
    """An accepted batch, stored raw (the signed wire body) and never changed."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("station_id", "seq", name="uq_batches_station_seq"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    format_version: Mapped[int] = mapped_column(Integer)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(Integer)
    received_at_ms: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class Rejection(Base):
    """A refused batch: why (stable code and reason), and the evidence."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    """The station named in the URL (it may not exist)."""
    seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    code: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at_ms: Mapped[int] = mapped_column(BigInteger)


@event.listens_for(StoredBatch, "before_update")
@event.listens_for(StoredBatch, "before_delete")
def _immutable(mapper: Any, connection: Any, target: StoredBatch) -> None:
    raise RuntimeError(f"stored batches are immutable (station {target.station_id})")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, FULL sync, busy timeout and immediate writes."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_schema(engine: Engine) -> None:
    """Create missing tables (Alembic migrations are the next step)."""
    Base.metadata.create_all(engine)


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
