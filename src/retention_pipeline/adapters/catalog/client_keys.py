"""Client keys in the catalog: the public recipient in clear, the identity only wrapped.

Keeping the wrapped identity here (and not in a key file per client) means one backup
of the catalog carries every client's recoverable key, while a thief of the catalog
alone holds nothing usable: each identity is sealed under the key-encryption key of its
custody (local master key or KMS). Destruction overwrites the wrapped value with NULL in
the same row, so no copy of it remains in the catalog.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from retention_pipeline.adapters.catalog import records
from retention_pipeline.adapters.catalog.models import ClientKeyRow, ClientRow
from retention_pipeline.adapters.catalog.transactions import Transactions
from retention_pipeline.ports.catalog import ClientKey, ConflictError


class ClientKeys(Transactions):
    """The client-key methods of ``SqlCatalog``."""

    def add_client_key(self, key: ClientKey) -> ClientKey:
        """Record a client's new key; ``ConflictError`` if it already has one."""
        with self._write() as session:
            self._need(session, ClientRow, key.client_id, "client", "record its policy first")
            if session.get(ClientKeyRow, key.client_id) is not None:
                raise ConflictError(
                    f"client {key.client_id!r} already has a key; a client keeps one key "
                    "until it is erased"
                )
            row = ClientKeyRow(
                client_id=key.client_id,
                recipient=key.recipient,
                fingerprint=key.fingerprint,
                custody=key.custody,
                kek_id=key.kek_id,
                wrapped=key.wrapped,
                state=key.state,
                created_at=key.created_at,
                destroyed_at=key.destroyed_at,
                deletion_date=key.deletion_date,
            )
            session.add(row)
            session.flush()
            return records.client_key(row)

    def get_client_key(self, client_id: str) -> ClientKey | None:
        """The client's key record, or ``None``."""
        with self._read() as session:
            row = session.get(ClientKeyRow, client_id)
            return records.client_key(row) if row is not None else None

    def list_client_keys(self) -> list[ClientKey]:
        """Every key record, by client id."""
        with self._read() as session:
            rows = session.scalars(select(ClientKeyRow).order_by(ClientKeyRow.client_id))
            return [records.client_key(r) for r in rows]

    def mark_client_key_destroyed(
        self, client_id: str, at: datetime, deletion_date: datetime | None
    ) -> ClientKey:
        """Null the wrapped identity; state ``pending_deletion`` while KMS still waits."""
        with self._write() as session:
            row = self._need(
                session, ClientKeyRow, client_id, "client key", "the client has no key"
            )
            row.wrapped = None
            row.destroyed_at = row.destroyed_at or at
            row.deletion_date = deletion_date
            row.state = "pending_deletion" if deletion_date and deletion_date > at else "destroyed"
            session.flush()
            return records.client_key(row)
