"""Scanned paper PVs (raw image, outcome) and the count fields read from them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:18:47.641086
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pv_scans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "sha256", name="uq_pv_scans_station_sha"),
    )
    with op.batch_alter_table("pv_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pv_scans_departement"), ["departement"], unique=False)
        batch_op.create_index(batch_op.f("ix_pv_scans_station_id"), ["station_id"], unique=False)

    op.create_table(
        "pv_scan_fields",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("field_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("flags", sa.String(length=64), nullable=False),
        sa.Column("crop_png", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["pv_scans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scan_id", "field_id", name="uq_pv_scan_fields_field"),
    )
    with op.batch_alter_table("pv_scan_fields", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pv_scan_fields_scan_id"), ["scan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pv_scan_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pv_scan_fields_scan_id"))

    op.drop_table("pv_scan_fields")
    with op.batch_alter_table("pv_scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pv_scans_station_id"))
        batch_op.drop_index(batch_op.f("ix_pv_scans_departement"))

    op.drop_table("pv_scans")
