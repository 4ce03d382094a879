"""Initial catalog: clients, policy versions, recovery points, archive copies,
erasure requests, certificates, and the hash-linked evidence log with its head row.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64  # written out: a migration must not change when code does


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_clients"),
    )
    op.create_table(
        "policy_versions",
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_policy_versions_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("client_id", "version", name="pk_policy_versions"),
    )
    op.create_table(
        "recovery_points",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("scheduled_for", _time(), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("version_id", sa.String(1024), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("completed_at", _time(), nullable=True),
        sa.Column("failed_at", _time(), nullable=True),
        sa.Column("deleted_at", _time(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','complete','failed','deleted')",
            name="ck_recovery_points_status",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_recovery_points_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_points"),
        sa.UniqueConstraint(
            "client_id", "scheduled_for", name="uq_recovery_points_client_id_scheduled_for"
        ),
    )
    op.create_index(
        "ix_recovery_points_client_id_status", "recovery_points", ["client_id", "status"]
    )
    op.create_table(
        "archive_copies",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("recovery_point_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version_id", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_class", sa.String(64), nullable=True),
        sa.Column("lock_mode", sa.String(16), nullable=True),
        sa.Column("lock_until", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deleted_at", _time(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('present','deleted')", name="ck_archive_copies_status"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_archive_copies_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["recovery_point_id"],
            ["recovery_points.id"],
            name="fk_archive_copies_recovery_point_id_recovery_points",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_archive_copies"),
    )
    op.create_index("ix_archive_copies_client_id", "archive_copies", ["client_id"])
    op.create_index("ix_archive_copies_recovery_point_id", "archive_copies", ["recovery_point_id"])
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("request_ref", sa.String(200), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "trigger IN ('end_of_contract','client_request','retention_expiry')",
            name="ck_erasure_requests_trigger",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_erasure_requests_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_erasure_requests"),
    )
    op.create_index("ix_erasure_requests_client_id", "erasure_requests", ["client_id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(63), nullable=False),
        sa.Column("erasure_request_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("issued_at", _time(), nullable=False),
        sa.Column("envelope_sha256", sa.String(64), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("supersedes", sa.String(64), nullable=True),
        sa.Column("bundle", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('completed','completed_with_exceptions','scheduled')",
            name="ck_certificates_status",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"], name="fk_certificates_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["erasure_request_id"],
            ["erasure_requests.id"],
            name="fk_certificates_erasure_request_id_erasure_requests",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"], ["certificates.id"], name="fk_certificates_supersedes_certificates"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_certificates"),
        sa.UniqueConstraint("leaf_index", name="uq_certificates_leaf_index"),
    )
    op.create_index("ix_certificates_client_id", "certificates", ["client_id"])
    op.create_table(
        "evidence_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_evidence_log"),
        sa.UniqueConstraint("hash", name="uq_evidence_log_hash"),
    )
    head = op.create_table(
        "evidence_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_evidence_head_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])


def downgrade() -> None:
    op.drop_table("evidence_head")
    op.drop_table("evidence_log")
    op.drop_index("ix_certificates_client_id", table_name="certificates")
    op.drop_table("certificates")
    op.drop_index("ix_erasure_requests_client_id", table_name="erasure_requests")
    op.drop_table("erasure_requests")
    op.drop_index("ix_archive_copies_recovery_point_id", table_name="archive_copies")
    op.drop_index("ix_archive_copies_client_id", table_name="archive_copies")
    op.drop_table("archive_copies")
    op.drop_index("ix_recovery_points_client_id_status", table_name="recovery_points")
    op.drop_table("recovery_points")
    op.drop_table("policy_versions")
    op.drop_table("clients")
