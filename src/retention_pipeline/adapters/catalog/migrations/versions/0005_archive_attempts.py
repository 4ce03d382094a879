"""Archive attempts: a pending row before an archive copy's first byte.

A copy killed half-way (or a retried PUT under faults) left full encrypted objects, under
compliance lock, that no row knew and cleanup could not find. Like a backup's pending
recovery point, an attempt row now comes first; the copy's row is recorded in the same
transaction that marks its attempt done.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_attempts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("recovery_point_id", sa.String(64), nullable=False),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','done','failed','cleared')", name="ck_archive_attempts_status"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_archive_attempts_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["recovery_point_id"],
            ["recovery_points.id"],
            name="fk_archive_attempts_recovery_point_id_recovery_points",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_archive_attempts"),
    )
    op.create_index("ix_archive_attempts_client_id", "archive_attempts", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_archive_attempts_client_id", table_name="archive_attempts")
    op.drop_table("archive_attempts")
