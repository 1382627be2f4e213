"""The one settings object of ingest: ``PLUME_`` environment variables (pydantic-settings).

Built in :func:`ingest.app.create_app` callers (``plume serve``, tests) and passed
down; never a module-level singleton. Secrets have no working default outside
development: the settings refuse to load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, model_validator
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
    host: str = "127.0.0.1"
    port: int = 8000

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
