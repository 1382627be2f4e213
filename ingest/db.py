"""Storage of ingest: SQLAlchemy 2 typed models and the engine factory.

SQLite (WAL, synchronous=FULL, ``BEGIN IMMEDIATE`` so writers queue instead of
failing) by default; PostgreSQL by URL. Stored batches are immutable: the ORM
refuses to update or delete them, and so are
scanned PVs and their readings. Nothing connects until first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Engine,
    Float,
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


class KitPage(Base):
    """A range of page addresses issued to one station for one form kind.

    Pages ``segment.shelf.book.first_page`` .. ``segment.shelf.book.last_page``
    belong to ``station_id`` and carry form ``form`` (``pv`` or ``contact``).
    """

    __tablename__ = "kit_pages"
    __table_args__ = (
        UniqueConstraint("segment", "shelf", "book", "first_page", name="uq_kit_pages_start"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)
    form: Mapped[str] = mapped_column(String(32))
    segment: Mapped[int] = mapped_column(Integer)
    shelf: Mapped[int] = mapped_column(Integer)
    book: Mapped[int] = mapped_column(Integer)
    first_page: Mapped[int] = mapped_column(Integer)
    last_page: Mapped[int] = mapped_column(Integer)


class KitPen(Base):
    """A pen serial issued in a station's kit."""

    __tablename__ = "kit_pens"

    pen_serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)


class InkStroke(Base):
    """One stroke decoded at the centre from a stored batch, with the field it fell in."""

    __tablename__ = "ink_strokes"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    pen_serial: Mapped[str] = mapped_column(String(64))
    page: Mapped[str] = mapped_column(String(64), index=True)
    """Page address ``segment.shelf.book.page``."""
    form: Mapped[str | None] = mapped_column(String(32), default=None)
    """Form kind of the page from the kit; ``None`` if the page was issued to nobody."""
    field_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """Field the stroke falls in (largest share); ``None`` outside every box."""
    t_start_ms: Mapped[int] = mapped_column(BigInteger)
    t_end_ms: Mapped[int] = mapped_column(BigInteger)
    n_points: Mapped[int] = mapped_column(Integer)
    points: Mapped[bytes] = mapped_column(LargeBinary)
    """float64 little-endian (N, 4): x mm, y mm, t ms, force."""
    flags: Mapped[str] = mapped_column(String(64), default="")
    """Comma-separated: ``incomplete``, ``foreign_page``, ``foreign_pen``."""


class FieldInk(Base):
    """The ink of one field box on one page: read again whenever more ink arrives."""

    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("page", "field_id", name="uq_fields_page_field"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    page: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(32))
    field_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    """Field kind from the layout (``count``, ``digit``, ``upper``, ...)."""
    version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped each time a stroke is added; a reading names the version it read."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` (ink may still come), ``ready`` (to read), ``read``."""
    last_ink_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    """Centre clock when ink last arrived (idle detection)."""


class Reading(Base):
    """What recognition read in a field at one version (confidence, alternatives)."""

    __tablename__ = "readings"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    field_pk: Mapped[int] = mapped_column(ForeignKey("fields.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text, default=None)
    """``None`` for contact fields (their text is only in :class:`Contact`, encrypted)."""
    confidence: Mapped[float] = mapped_column(Float)
    alternatives: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """``[[text, confidence], ...]``; empty for contact fields."""
    created_ms: Mapped[int] = mapped_column(BigInteger)


class PvResult(Base):
    """A station's PV as the centre reads it: one value per count field."""

    __tablename__ = "pv_results"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), primary_key=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Field id -> integer, or ``None`` while unread or under review."""
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    """Lowest confidence of the values."""
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    """Every count field has a value."""
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class Contact(Base):
    """A voter's contact form: every personal field encrypted apart (AES-GCM)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("page", name="uq_contacts_page"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    page: Mapped[str] = mapped_column(String(64))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    encrypted: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """Field name -> base64(nonce | ciphertext | tag); associated data names the field."""
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class FindingRow(Base):
    """A reconciliation finding stored for a station."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    code: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open``, ``in_review``, ``resolved``."""
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ReviewItem(Base):
    """Something a person must decide: a low-confidence reading or a finding."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("kind", "ref_id", "version", name="uq_review_ref"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``reading`` (ref: fields.id) or ``finding`` (ref: findings.id)."""
    ref_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=0)
    """The field version under review (0 for findings)."""
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    """``waiting`` (0-1 keyings), ``disputed`` (two keyings differ), ``decided``."""
    proposal: Mapped[str | None] = mapped_column(Text, default=None)
    """What the machine read (not for contact fields)."""
    decision: Mapped[str | None] = mapped_column(Text, default=None)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    decided_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class Keying(Base):
    """One reviewer's independent keying of a review item."""

    __tablename__ = "keyings"
    __table_args__ = (UniqueConstraint("item_id", "reviewer", name="uq_keyings_reviewer"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    at_ms: Mapped[int] = mapped_column(BigInteger)


class PipelineCursor(Base):
    """How far a background step has processed the stored batches (by ``batches.id``)."""

    __tablename__ = "pipeline_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)


class User(Base):
    """A person or service that calls the API with a bearer token (:mod:`ingest.auth`)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    """``high_authority``, ``federation``, ``station``, ``reviewer`` or ``coordinator``."""
    departement: Mapped[str | None] = mapped_column(String(3), default=None)
    """The one département a federation (or a regional reviewer) sees."""
    station_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """The one station a ``station`` user sees."""
    created_ms: Mapped[int] = mapped_column(BigInteger)
    disabled_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ApiToken(Base):
    """A bearer token of a user: only its SHA-256 is kept, with expiry and revocation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The token's first characters, to recognise it in listings (not enough to use it)."""
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log (:mod:`ingest.audit`)."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(160))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Never personal data: counts, ids, codes."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last entry's seq and hash (one row): deleting the newest entries shows as a mismatch."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class PenSessionState(Base):
    """Ink assembly's memory of one pen session of one station, between stored batches.

    A stroke may span two uploads: the frames of a stroke still open at the end of
    a batch are kept here (``carry``) and fed again with the next batch, in the
    same transaction that stores the finished strokes and advances the cursor, so
    a crash can neither lose nor double a stroke.
    """

    __tablename__ = "pen_sessions"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pen_session: Mapped[str] = mapped_column(String(128), primary_key=True)
    """The agent's pen session (``serial@clock`` live, ``serial#batchN`` offline)."""
    pen_serial: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16), default="live")
    hello: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    """The session's last hello frame (the pen's units), or empty."""
    carry: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    """Frames of the stroke still open (from its pen-down), or empty."""
    updated_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class PvScan(Base):
    """A scanned paper PV as uploaded: the raw image, never changed, and what became of it.

    One row per (station, image bytes): the same image twice is the same scan.
    A refused scan (not an image, not this form, another station's sheet) is
    stored too, with its code and evidence (``detail``).
    """

    __tablename__ = "pv_scans"
    __table_args__ = (UniqueConstraint("station_id", "sha256", name="uq_pv_scans_station_sha"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    """The station named in the URL."""
    departement: Mapped[str] = mapped_column(String(3), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(32))
    image: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    """The actor (``user:<name>``)."""
    received_at_ms: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    """``read``, ``warning`` (read, station id unreadable) or ``rejected``."""
    code: Mapped[str | None] = mapped_column(String(16), default=None)
    """OCR.401/402/404 (rejected), OCR.403 (warning), SCAN.415; None when read cleanly."""
    message: Mapped[str | None] = mapped_column(Text, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The station id read (text, method, confidence, expected), registration method."""


class PvScanField(Base):
    """One count field as read from a scanned PV: value, confidence, alternatives, crop."""

    __tablename__ = "pv_scan_fields"
    __table_args__ = (UniqueConstraint("scan_id", "field_id", name="uq_pv_scan_fields_field"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("pv_scans.id"), index=True)
    field_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text, default=None)
    """The digits read; None: the box reads empty."""
    confidence: Mapped[float] = mapped_column(Float)
    alternatives: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """``[[text, p], ...]``, best first."""
    flags: Mapped[str] = mapped_column(String(64), default="")
    """Comma-separated overwriting flags (``scribble``, ``crossed_out``)."""
    crop_png: Mapped[bytes] = mapped_column(LargeBinary)
    """The field's comb on the registered page, PNG."""


@event.listens_for(StoredBatch, "before_update")
@event.listens_for(StoredBatch, "before_delete")
@event.listens_for(PvScan, "before_update")
@event.listens_for(PvScan, "before_delete")
@event.listens_for(PvScanField, "before_update")
@event.listens_for(PvScanField, "before_delete")
def _immutable(mapper: Any, connection: Any, target: StoredBatch | PvScan | PvScanField) -> None:
    raise RuntimeError(f"stored batches and scans are immutable ({type(target).__name__})")


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(mapper: Any, connection: Any, target: AuditEntry) -> None:
    raise RuntimeError(f"the audit log is append-only (entry {target.seq})")


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_audit_change(state: Any) -> None:
    if (state.is_update or state.is_delete) and any(
        m.class_ is AuditEntry for m in state.all_mappers
    ):
        raise RuntimeError("the audit log is append-only (bulk update or delete refused)")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, FULL sync, busy timeout and immediate writes.

    Statement parameters never appear in exceptions (``hide_parameters``): they can be
    batch bodies or contact fields, and exceptions get logged.
    """
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

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
    """Bring the schema up to the newest Alembic migration (see :mod:`ingest.migrate`)."""
    from ingest.migrate import upgrade  # ingest.migrate imports this module

    upgrade(engine)


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
