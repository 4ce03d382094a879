"""The irreversible part of an erasure and its checks: delete, destroy, scrub, verify.

Every step is idempotent, so a rerun after an interruption at any point converges:
deleting a deleted version succeeds, destroying a destroyed key reports the same
deletion date, scrubbing a scrubbed client changes nothing, and marking is skipped for
rows already marked. ``verify`` reads everything back from the stores, the key custody
and the catalog; it never trusts what the deletion step reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retention_pipeline.domain import erasure as rules
from retention_pipeline.domain.erasure import NO_KEY_FINGERPRINT, Entry
from retention_pipeline.domain.erasure_record import ErasureRecord, key_destruction_json
from retention_pipeline.envelope.certificate_predicate import KeyDestructionInfo, Verification
from retention_pipeline.errors import RetentionError
from retention_pipeline.ports.catalog import Catalog, ErasureRequest
from retention_pipeline.ports.keys import KeyCustodyError
from retention_pipeline.services.client_keys import ClientKeyring
from retention_pipeline.services.erasure_scope import StoreReach

# Key destruction methods as the certificate spells them (lowercase words).
KEY_METHODS = {"local": "wrapped-identity-deleted", "aws-kms": "kms-schedule-key-deletion"}
KEY_CHECK = "unwrap-refused"


class ErasureIncompleteError(RetentionError):
    """Verification found something left; no certificate was issued. Run erase again."""


@dataclass
class ErasureSteps:
    """Delete, destroy, scrub, mark and verify one client's erasure."""

    catalog: Catalog
    keyring: ClientKeyring
    reach: StoreReach

    def run(
        self, request: ErasureRequest, record: ErasureRecord, entries: list[Entry], now: datetime
    ) -> list[Entry]:
        """Steps 3 and 4 of ``erasure``; returns the residual (locked) entries."""
        client = request.client_id
        _, refused = self.reach.delete(entries, now)
        residual = rules.residuals(entries, now) + refused
        record.set_residual(residual)
        record.data["uploads_aborted"] = record.data.get("uploads_aborted", 0) + (
            self.reach.abort_uploads(client)
        )
        if record.key_destruction() is None:
            record.set_key_destruction(key_destruction_json(self._destroy_key(client, now)))
        self.catalog.scrub_client(client, now, request.requested_by)
        self._mark_deleted(request, residual, now)
        self.verify(client, record, residual)
        return residual

    def sweep(
        self, request: ErasureRequest, record: ErasureRecord, now: datetime
    ) -> list[Entry] | None:
        """Delete residual copies whose lock ended; ``None`` when nothing could be deleted."""
        residual = record.residual()
        ended = [entry for entry in residual if not entry.residual_at(now)]
        if not ended:
            return None
        _, refused = self.reach.delete(ended, now)
        refused_ids = {entry.ident for entry in refused}
        gone = {entry.ident for entry in ended} - refused_ids
        if not gone:
            return None
        remaining = [entry for entry in residual if entry.ident not in gone]
        remaining = [
            next((r for r in refused if r.ident == entry.ident), entry) for entry in remaining
        ]
        record.set_residual(remaining)
        self._mark_deleted(request, remaining, now)
        self.verify(request.client_id, record, remaining)
        return remaining

    def _destroy_key(self, client_id: str, now: datetime) -> KeyDestructionInfo:
        key = self.catalog.get_client_key(client_id)
        if key is None:  # the hoster never held a key: only the client's own ones decrypt
            check = Verification(method="no-hoster-key", result="passed")
            return KeyDestructionInfo(NO_KEY_FINGERPRINT, "none", "none", "no-hoster-key",
                                      now, None, check)  # fmt: skip
        destruction = self.keyring.destroy(client_id, now)
        after = self.catalog.get_client_key(client_id)
        destroyed_at = after.destroyed_at if after and after.destroyed_at else now
        return KeyDestructionInfo(
            key_fingerprint=key.fingerprint,
            custody=key.custody,
            kek_id=key.kek_id,
            method=KEY_METHODS.get(key.custody, "destroyed"),
            destroyed_at=destroyed_at,
            deletion_date=destruction.deletion_date,
            verification=Verification(method=KEY_CHECK, result="passed"),
        )

    def _mark_deleted(self, request: ErasureRequest, residual: list[Entry], now: datetime) -> None:
        """Recovery points and archive copies whose object is gone become ``deleted``."""
        reason = f"erased by request {request.id}"
        client = request.client_id
        for rp in self.catalog.list_recovery_points(client):
            if rp.status != "deleted":
                self.catalog.mark_recovery_point_deleted(rp.id, reason, now)
        kept = {(entry.store, entry.key, entry.version_id) for entry in residual}
        for copy in self.catalog.list_archive_copies(client):
            if copy.status == "present" and (copy.store, copy.key, copy.version_id) not in kept:
                self.catalog.mark_archive_copy_deleted(copy.id, reason, now)

    def verify(self, client_id: str, record: ErasureRecord, residual: list[Entry]) -> None:
        """Step 4: raise ``ErasureIncompleteError`` saying what remains, if anything does."""
        problems = self.reach.remaining(client_id, residual)
        problems += self.reach.readable(record.deleted())
        problems += self._key_problems(client_id)
        restorable = self.catalog.list_recovery_points(client_id, statuses=["pending", "complete"])
        if restorable:
            problems.append(f"catalog: {len(restorable)} recovery point(s) still restorable")
        if problems:
            raise ErasureIncompleteError(
                f"client {client_id!r}: erasure not verified, no certificate issued: "
                + "; ".join(problems)
                + "; run the erasure again"
            )

    def _key_problems(self, client_id: str) -> list[str]:
        """The client key must no longer unwrap, and KMS must not hold it as Enabled."""
        key = self.catalog.get_client_key(client_id)
        if key is None:
            return []
        problems = []
        try:
            self.keyring.identity_for(client_id)
            problems.append(f"client key of {client_id!r} still unwraps")
        except KeyCustodyError:
            pass
        if key.wrapped is not None:
            problems.append(f"catalog still holds the wrapped key of {client_id!r}")
        if key.custody == "aws-kms":
            state = self.keyring.custody.state(client_id, key.kek_id)
            if state.state not in ("pending_deletion", "destroyed"):
                problems.append(f"KMS key of {client_id!r} is {state.state}, not pending deletion")
        return problems
