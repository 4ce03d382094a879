"""Client keys (public recipient, wrapped identity, custody state) and backup attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "client_keys",
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("custody", sa.String(16), nullable=False),
        sa.Column("kek_id", sa.String(2048), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("destroyed_at", _time(), nullable=True),
        sa.Column("deletion_date", _time(), nullable=True),
        sa.CheckConstraint(
            "state IN ('active','pending_deletion','destroyed')", name="ck_client_keys_state"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_client_keys_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("client_id", name="pk_client_keys"),
    )
    with op.batch_alter_table("recovery_points") as batch:
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )


def downgrade() -> None:
    with op.batch_alter_table("recovery_points") as batch:
        batch.drop_column("attempts")
    op.drop_table("client_keys")
