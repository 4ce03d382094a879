"""Each client's age key pair: created on first need, used wrapped, destroyed on erasure.

Rules:
* A client gets a key pair the first time its policy activates an option (a backup
  needs a recipient), never before: no key material exists for inactive clients.
* Backups need only the public recipient (from the catalog), so a backup worker holds
  nothing that decrypts. Unwrapping is done only for restore and verification.
* With ``protection.hoster_can_decrypt: false`` the hoster's key is not a recipient at
  all: only the client's own recipients can read the backups.
* A destroyed key is never recreated: the client was erased, and a new key would make
  new backups look like a continuation of the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.envelope.age import Identity, Recipient, generate_identity
from retention_pipeline.errors import RefusedError
from retention_pipeline.ports.catalog import Catalog, ClientKey, RecoveryPoint
from retention_pipeline.ports.keys import (
    KeyCustody,
    KeyCustodyError,
    KeyDestruction,
    KeyUnavailableError,
    WrappedIdentity,
)

SYSTEM_ACTOR = "retention-pipeline"


@dataclass
class ClientKeyring:
    """Client keys over the catalog (where they are kept) and a custody (what wraps them)."""

    catalog: Catalog
    custody: KeyCustody

    def ensure_key(self, client_id: str, now: datetime) -> ClientKey:
        """The client's active key, created (and logged) on first need."""
        existing = self.catalog.get_client_key(client_id)
        if existing is not None:
            if existing.state != "active" or existing.wrapped is None:
                raise RefusedError(
                    f"client {client_id!r}: its key was destroyed on "
                    f"{existing.destroyed_at:%Y-%m-%d} (erasure); nothing more is processed"
                )
            return existing
        identity = generate_identity()
        kek_id = self.custody.create(client_id)
        wrapped = self.custody.wrap(client_id, identity.to_string().encode())
        recipient = identity.recipient
        key = self.catalog.add_client_key(
            ClientKey(
                client_id=client_id,
                recipient=recipient.to_string(),
                fingerprint=recipient.fingerprint(),
                custody=self.custody.kind,
                kek_id=kek_id,
                wrapped=wrapped.blob,
                state="active",
                created_at=now,
            )
        )
        self.catalog.append_evidence(
            SYSTEM_ACTOR,
            "key.created",
            {"client": client_id},
            {"fingerprint": key.fingerprint, "custody": key.custody},
            now,
        )
        return key

    def recipients_for(self, policy: ClientPolicy, now: datetime) -> list[Recipient]:
        """Who every new recovery point of this client is encrypted to.

        The hoster's client key (unless the order form says the hoster must not be able
        to decrypt), then every recipient the client gave us.
        """
        recipients = [Recipient.from_string(r) for r in policy.protection.client_recipients]
        if policy.protection.hoster_can_decrypt:
            key = self.ensure_key(policy.client, now)
            recipients.insert(0, Recipient.from_string(key.recipient))
        if not recipients:
            raise RefusedError(
                f"client {policy.client!r}: no recipient to encrypt to; set "
                "protection.hoster_can_decrypt: true or add protection.client_recipients"
            )
        return recipients

    def hoster_fingerprint(self, client_id: str) -> str | None:
        """The fingerprint of the client's active hoster key, or ``None`` if it has none."""
        key = self.catalog.get_client_key(client_id)
        if key is None or key.state != "active":
            return None
        return Recipient.from_string(key.recipient).fingerprint()

    def excludes_hoster(self, rp: RecoveryPoint) -> bool:
        """Whether ``rp`` was encrypted without the client's hoster key (client-only)."""
        return hoster_excluded(rp, self.hoster_fingerprint(rp.client_id))

    def identity_for(self, client_id: str) -> Identity:
        """Unwrap the client's identity, for restore and verification only."""
        key = self.catalog.get_client_key(client_id)
        if key is None or key.wrapped is None or key.state != "active":
            raise KeyUnavailableError(
                f"client {client_id!r}: no usable hoster key (none was created, or it was "
                "destroyed); only the client's own age identity can decrypt its backups"
            )
        if key.custody != self.custody.kind:
            raise KeyCustodyError(
                f"client {client_id!r}: its key is held in {key.custody} custody but this "
                f"installation is configured for {self.custody.kind}; fix key_custody"
            )
        wrapped = WrappedIdentity(key.custody, key.kek_id, key.wrapped, client_id)
        return Identity.from_string(self.custody.unwrap(wrapped, client_id).decode())

    def destroy(self, client_id: str, now: datetime) -> KeyDestruction:
        """Destroy the key-encryption key (KMS) and the wrapped identity (catalog).

        Idempotent: destroying an already destroyed key reports the same deletion date.
        """
        key = self.catalog.get_client_key(client_id)
        if key is None:
            raise KeyUnavailableError(f"client {client_id!r} never had a hoster key")
        destruction = self.custody.destroy(client_id, key.kek_id, now)
        self.catalog.mark_client_key_destroyed(client_id, now, destruction.deletion_date)
        self.catalog.append_evidence(
            SYSTEM_ACTOR,
            "key.destroyed",
            {"client": client_id},
            {
                "fingerprint": key.fingerprint,
                "custody": key.custody,
                "method": destruction.method,
                "deletion_date": destruction.deletion_date.isoformat()
                if destruction.deletion_date
                else None,
            },
            now,
        )
        return destruction


def hoster_excluded(rp: RecoveryPoint, hoster_fingerprint: str | None) -> bool:
    """Whether ``rp``'s recorded recipients lack the hoster key ``hoster_fingerprint``.

    Such a point was taken while the order form said ``hoster_can_decrypt: false``; its
    recorded recipient fingerprints tell, without unwrapping anything. A client with no
    active hoster key (``None``) is not judged here (``identity_for`` says why).
    """
    return (
        hoster_fingerprint is not None
        and bool(rp.recipients)
        and hoster_fingerprint not in rp.recipients
    )
