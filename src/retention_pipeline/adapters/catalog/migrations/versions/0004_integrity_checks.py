"""Integrity checks: rolling verification of recovery points and restore drills.

Auditors ask for proof that backups can be read back (decrypt and checksum) and
restored, not only that they were written; each check leaves one row with its result
and counts only (no data, no key).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrity_checks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("recovery_point_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint("kind IN ('verify','restore_drill')", name="ck_integrity_checks_kind"),
        sa.CheckConstraint("result IN ('passed','failed')", name="ck_integrity_checks_result"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_integrity_checks_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["recovery_point_id"],
            ["recovery_points.id"],
            name="fk_integrity_checks_recovery_point_id_recovery_points",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_integrity_checks"),
    )
    op.create_index(
        "ix_integrity_checks_client_id_checked_at",
        "integrity_checks",
        ["client_id", "checked_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_integrity_checks_client_id_checked_at", table_name="integrity_checks")
    op.drop_table("integrity_checks")
