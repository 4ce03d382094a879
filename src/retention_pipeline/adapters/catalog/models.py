"""The catalog's tables, as SQLAlchemy 2 typed declarative models.

These models and ``migrations/versions/`` must describe the same schema; a test compares
them with Alembic's ``compare_metadata`` on every engine. Change both together, in a new
migration, never by editing ``0001_initial.py``.

Times are ``UtcDateTime``: stored in UTC (``timestamptz`` on PostgreSQL, text on SQLite)
and always returned aware, because comparing a naive and an aware time raises and a
wrong zone silently shifts retention deadlines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)
CLIENT_ID = String(63)
SHA256 = String(64)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine; a naive value is refused at bind time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("catalog times must be timezone-aware (UTC)")
        utc = value.astimezone(UTC)
        # SQLite keeps text without an offset: store UTC wall time, read it back as UTC.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention migrations rely on."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class ClientRow(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(CLIENT_ID, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    current_version: Mapped[int] = mapped_column(Integer)
    removed: Mapped[bool]


class PolicyVersionRow(Base):
    __tablename__ = "policy_versions"

    client_id: Mapped[str] = mapped_column(
        CLIENT_ID, ForeignKey("clients.client_id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any] | None]
    digest: Mapped[str | None] = mapped_column(SHA256)
    changes: Mapped[list[Any]]
    actor: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]


class RecoveryPointRow(Base):
    __tablename__ = "recovery_points"
    __table_args__ = (
        UniqueConstraint("client_id", "scheduled_for"),
        Index(None, "client_id", "status"),
        CheckConstraint("status IN ('pending','complete','failed','deleted')", name="status"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(CLIENT_ID, ForeignKey("clients.client_id"))
    store: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    scheduled_for: Mapped[datetime | None]
    requested_by: Mapped[str | None] = mapped_column(String(200))
    recipients: Mapped[list[Any]]
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(SHA256)
    version_id: Mapped[str | None] = mapped_column(String(1024))
    manifest_sha256: Mapped[str | None] = mapped_column(SHA256)
    completed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class ClientKeyRow(Base):
    """A client's key: public recipient in clear, private identity only wrapped."""

    __tablename__ = "client_keys"
    __table_args__ = (
        CheckConstraint("state IN ('active','pending_deletion','destroyed')", name="state"),
    )

    client_id: Mapped[str] = mapped_column(
        CLIENT_ID, ForeignKey("clients.client_id"), primary_key=True
    )
    recipient: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(SHA256)
    custody: Mapped[str] = mapped_column(String(16))
    kek_id: Mapped[str] = mapped_column(String(2048))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]
    deletion_date: Mapped[datetime | None]


class ArchiveCopyRow(Base):
    __tablename__ = "archive_copies"
    __table_args__ = (
        Index(None, "client_id"),
        Index(None, "recovery_point_id"),
        CheckConstraint("status IN ('present','deleted')", name="status"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recovery_point_id: Mapped[str] = mapped_column(ID, ForeignKey("recovery_points.id"))
    client_id: Mapped[str] = mapped_column(CLIENT_ID, ForeignKey("clients.client_id"))
    store: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(Text)
    version_id: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(SHA256)
    storage_class: Mapped[str | None] = mapped_column(String(64))
    lock_mode: Mapped[str | None] = mapped_column(String(16))
    lock_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    deleted_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class ArchiveAttemptRow(Base):
    """One archive copy in the making, written before its first byte (migration 0005)."""

    __tablename__ = "archive_attempts"
    __table_args__ = (
        Index(None, "client_id"),
        CheckConstraint("status IN ('pending','done','failed','cleared')", name="status"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(CLIENT_ID, ForeignKey("clients.client_id"))
    recovery_point_id: Mapped[str] = mapped_column(ID, ForeignKey("recovery_points.id"))
    store: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    lock_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class ErasureRequestRow(Base):
    __tablename__ = "erasure_requests"
    __table_args__ = (
        Index(None, "client_id"),
        CheckConstraint(
            "trigger IN ('end_of_contract','client_request','retention_expiry')", name="trigger"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(CLIENT_ID, ForeignKey("clients.client_id"))
    trigger: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    request_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]]


class CertificateRow(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        Index(None, "client_id"),
        UniqueConstraint("leaf_index"),
        CheckConstraint(
            "status IN ('completed','completed_with_exceptions','scheduled')", name="status"
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(CLIENT_ID, ForeignKey("clients.client_id"))
    erasure_request_id: Mapped[str | None] = mapped_column(ID, ForeignKey("erasure_requests.id"))
    status: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime]
    envelope_sha256: Mapped[str] = mapped_column(SHA256)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger)
    supersedes: Mapped[str | None] = mapped_column(ID, ForeignKey("certificates.id"))
    bundle: Mapped[dict[str, Any]]
    delivered_to: Mapped[list[Any] | None]


class EvidenceRow(Base):
    __tablename__ = "evidence_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subjects: Mapped[dict[str, Any]]
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(SHA256)
    hash: Mapped[str] = mapped_column(SHA256, unique=True)


class EvidenceHeadRow(Base):
    """One row (id 1): the chain's head, and the lock every append takes first.

    Appends read the head from here, not from ``evidence_log``, so deleting the newest
    entries cannot make the next append silently re-link over the gap.
    """

    __tablename__ = "evidence_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(SHA256)


class IntegrityCheckRow(Base):
    """One verification (decrypt + checksums) or restore drill of a recovery point."""

    __tablename__ = "integrity_checks"
    __table_args__ = (
        Index(None, "client_id", "checked_at"),
        CheckConstraint("kind IN ('verify','restore_drill')", name="kind"),
        CheckConstraint("result IN ('passed','failed')", name="result"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(CLIENT_ID, ForeignKey("clients.client_id"))
    recovery_point_id: Mapped[str] = mapped_column(ID, ForeignKey("recovery_points.id"))
    kind: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime]
    details: Mapped[dict[str, Any]]
