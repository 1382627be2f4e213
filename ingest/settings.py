"""The one settings object of ingest: ``PLUME_`` environment variables (pydantic-settings).

Built in :func:`ingest.app.create_app` callers (``plume serve``, tests) and passed
down; never a module-level singleton. Secrets have no working default outside
development: the settings refuse to load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.crypto import DEV_CONTACT_KEY, parse_key

DEV_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """Configuration of the ingest service."""

    model_config = SettingsConfigDict(env_prefix="PLUME_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///plume-ingest.db"
    """SQLAlchemy URL: SQLite file (WAL) by default, ``postgresql+psycopg://...`` to scale."""
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    """Signs tokens (users, next round); must be set outside development."""
    contact_key: SecretStr = SecretStr(DEV_CONTACT_KEY)
    """AES-256-GCM key of contact forms at rest (base64, 32 bytes); set it outside development."""
    max_batch_bytes: int = 8 * 1024 * 1024
    """Largest batch body accepted (413 above)."""
    max_scan_bytes: int = 20 * 1024 * 1024
    """Largest scanned PV image accepted (413 above): an A4 page at 300 dpi is 1-3 MB as JPEG."""
    request_log: bool = True
    """One log line per successful request (errors are always logged)."""
    host: str = "127.0.0.1"
    port: int = 8000

    # --- the pipeline: assembly, readiness, digitisation (docs/ingest-pipeline.md) ---
    pipeline_enabled: bool = True
    """Run the pipeline loop in the service (``False``: intake only, e.g. benchmarks)."""
    pipeline_interval_s: float = 0.5
    """Pause of the pipeline loop when it found nothing to do."""
    workers: Literal["local", "celery"] = "local"
    """Where fields are read: an in-process pool, or Celery workers over Redis."""
    worker_count: int = Field(default=2, ge=1, le=64)
    """Size of the local pool."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Celery broker and result backend when ``workers`` is ``celery``."""
    field_idle_s: float = Field(default=60.0, ge=0)
    """A page with no new ink for this long is complete: its fields are read."""
    review_threshold: float = Field(default=0.9, ge=0, le=1)
    """Readings below this confidence wait for people (review)."""
    pv_candidates: tuple[str, ...] = (
        "Martine Aubry",
        "Jean-Michel Baylet",
        "François Hollande",
        "Arnaud Montebourg",
        "Ségolène Royal",
        "Manuel Valls",
    )
    """Names printed on the PV, in ballot order (default: the 2011 primary, round one)."""
    poll_closing_ms: int | None = 1_318_179_600_000
    """When the poll closed (epoch ms) for the timing rules; default 2011-10-09 19:00 Paris."""
    results_deadline_ms: int | None = None
    """When every station's PV is due (epoch ms): from then on a station without a complete
    PV, or not closed, gets a finding (F.410, F.411, W.412). None: no deadline is checked."""
    assembly_gap_grace_s: float = Field(default=10.0, ge=0)
    """How long a hole in batch ids may be a transaction still committing before it is skipped."""

    @model_validator(mode="after")
    def _no_default_secrets(self) -> Settings:
        if self.environment != "development" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                f"PLUME_SECRET_KEY must be set when PLUME_ENVIRONMENT={self.environment}; "
                "the development default is refused"
            )
        if (
            self.environment != "development"
            and self.contact_key.get_secret_value() == DEV_CONTACT_KEY
        ):
            raise ValueError(
                f"PLUME_CONTACT_KEY must be set when PLUME_ENVIRONMENT={self.environment}; "
                "the development key is refused"
            )
        parse_key(self.contact_key.get_secret_value())
        return self
