"""The key custody port: who holds each client's private age identity, and how it dies.

Each client has an X25519 age key pair. Backup workers only ever see the public
recipient, so they cannot decrypt. The private identity is kept *wrapped* by a
key-encryption key (KEK): a local master key file, or one AWS KMS key per client. The
catalog (the lead's service code) stores the recipient and the ``WrappedIdentity``;
custody adapters never store identities themselves. Destroying the KEK (KMS), or the
wrapped blob (local), is what makes every backup of the client undecryptable.

Contract (every adapter obeys it; ``tests/keys/`` checks it against every adapter):

* ``create`` is idempotent: a second call for the same client returns the same kek_id.
* ``wrap`` is not deterministic (fresh randomness each call) but is safe to repeat:
  every blob it returned unwraps while the KEK lives.
* ``unwrap`` refuses a blob whose ``context`` is not the client asked for, and the
  client id is authenticated inside the ciphertext (associated data / KMS
  EncryptionContext): rewriting ``context`` does not move a key to another client.
* ``destroy`` is idempotent: destroying again succeeds with the same ``deletion_date``.
* Identities are opaque bytes (e.g. ``AGE-SECRET-KEY-1...`` in UTF-8), at most
  ``MAX_IDENTITY_SIZE`` bytes. They never appear in a log line or an error message;
  messages name the client id, the custody kind and the kek_id only.

Errors (all ``KeyCustodyError``):

* ``KeyUnavailableError``: the KEK is destroyed, pending deletion, disabled, missing,
  or is not the one the blob was wrapped under. Permanent: do not retry.
* ``WrappedIdentityError``: the blob is tampered, truncated, of an unknown version, or
  wrapped for another client. Permanent: do not retry.
* ``TransientKeyCustodyError``: throttling, 5xx, timeouts, dropped connections.
  Retryable; adapters do not retry by themselves (one retry layer, the caller's).
* ``KeyCustodyError`` itself: any other refusal (access denied, unsafe master key
  file, wrong custody kind). Permanent until an operator fixes the cause it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from retention_pipeline.domain.ids import CLIENT_ID_HINT, CLIENT_ID_PATTERN
from retention_pipeline.errors import RetentionError

__all__ = [
    "MAX_IDENTITY_SIZE",
    "CustodyKind",
    "KeyCustody",
    "KeyCustodyError",
    "KeyDestruction",
    "KeyLifecycle",
    "KeyState",
    "KeyUnavailableError",
    "TransientKeyCustodyError",
    "WrappedIdentity",
    "WrappedIdentityError",
    "check_client_id",
    "check_identity",
]

# AWS KMS Encrypt takes at most 4096 bytes of plaintext; an age identity is ~74 bytes.
# Every adapter enforces the same bound so that switching custody never breaks a wrap.
MAX_IDENTITY_SIZE = 4096

CustodyKind = Literal["local", "aws-kms"]
# "disabled" covers a KEK that exists but cannot be used now (KMS Disabled, Unavailable,
# PendingImport, Creating): not destroyed, yet unwrap is refused.
KeyLifecycle = Literal["active", "disabled", "pending_deletion", "destroyed"]

_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


class KeyCustodyError(RetentionError):
    """A key custody operation was refused; the message says by whom and what to do."""


class KeyUnavailableError(KeyCustodyError):
    """The KEK is destroyed, pending deletion, disabled or not ours: permanent."""


class WrappedIdentityError(KeyCustodyError):
    """A wrapped identity that does not authenticate for this client: permanent."""


class TransientKeyCustodyError(KeyCustodyError):
    """Throttling, a 5xx answer, a timeout or a dropped connection: safe to retry."""


@dataclass(frozen=True)
class WrappedIdentity:
    """A client's private identity, encrypted under a KEK; safe to store in the catalog.

    ``kek_id`` is the master key fingerprint (local) or the KMS key ARN (aws-kms);
    ``context`` is the client id the identity was wrapped for.
    """

    custody: CustodyKind
    kek_id: str
    blob: bytes = field(repr=False)
    context: str


@dataclass(frozen=True)
class KeyState:
    """What custody knows about a client's KEK right now."""

    client_id: str
    custody: CustodyKind
    kek_id: str
    state: KeyLifecycle
    deletion_date: datetime | None = None


@dataclass(frozen=True)
class KeyDestruction:
    """What ``destroy`` did, for the destruction certificate.

    ``deletion_date`` is when the key material is gone for good when that lies after
    ``destroyed_at`` (KMS pending window); ``None`` when nothing is left pending.
    ``details`` holds only opaque ids and provider states, never key material.
    """

    client_id: str
    custody: CustodyKind
    kek_id: str
    method: str
    destroyed_at: datetime
    deletion_date: datetime | None
    details: dict[str, Any] = field(default_factory=dict)


def check_client_id(client_id: str) -> str:
    """Return ``client_id`` if it is a valid client id, else raise ``KeyCustodyError``.

    Client ids become KMS alias names and associated data, so a malformed one is
    refused before any I/O rather than turned into a surprising alias.
    """
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise KeyCustodyError(
            f"client id {client_id!r} is not valid for key custody: {CLIENT_ID_HINT}"
        )
    return client_id


def check_identity(identity: bytes) -> bytes:
    """Return ``identity`` if it is non-empty bytes within ``MAX_IDENTITY_SIZE``."""
    if not isinstance(identity, bytes | bytearray) or not identity:
        raise KeyCustodyError("the identity to wrap must be non-empty bytes")
    if len(identity) > MAX_IDENTITY_SIZE:
        raise KeyCustodyError(
            f"the identity to wrap is {len(identity)} bytes; at most {MAX_IDENTITY_SIZE} "
            "are accepted (an age identity is about 74)"
        )
    return bytes(identity)


@runtime_checkable
class KeyCustody(Protocol):
    """Wraps and unwraps client identities under a KEK. See the module docstring."""

    kind: CustodyKind

    def create(self, client_id: str) -> str:
        """Prepare the client's KEK and return its kek_id. Idempotent."""
        ...

    def wrap(self, client_id: str, identity: bytes) -> WrappedIdentity:
        """Encrypt ``identity`` under the client's KEK, binding the client id to it.

        Raises ``KeyUnavailableError`` (permanent) when the KEK is missing or unusable.
        """
        ...

    def unwrap(self, wrapped: WrappedIdentity, client_id: str) -> bytes:
        """The identity bytes, if ``wrapped`` was made for ``client_id`` under a live KEK.

        Raises ``WrappedIdentityError`` or ``KeyUnavailableError``; both are permanent.
        """
        ...

    def state(self, client_id: str, kek_id: str) -> KeyState:
        """The KEK's lifecycle state; read-only, safe to repeat."""
        ...

    def destroy(self, client_id: str, kek_id: str, at: datetime) -> KeyDestruction:
        """Destroy (or schedule the destruction of) the client's KEK. Idempotent."""
        ...
