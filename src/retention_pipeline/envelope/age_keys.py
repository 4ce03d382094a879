"""X25519 age keys: the client key's secret half (Identity) and public half (Recipient).

Text forms (c2sp.org/age): a recipient is Bech32 with HRP ``age`` in lowercase (``age1...``),
an identity is Bech32 with HRP ``AGE-SECRET-KEY-`` in uppercase (``AGE-SECRET-KEY-1...``).
Catalogs and logs name a key by ``Recipient.fingerprint()``; an identity's text never reaches
a log, an exception message or a ``repr()``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from retention_pipeline.envelope import bech32
from retention_pipeline.envelope.age_format import X25519_KEY_SIZE
from retention_pipeline.errors import RetentionError

RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"


class KeyFormatError(RetentionError):
    """A key string or key bytes are malformed. The message never quotes a secret key."""


@dataclass(frozen=True)
class Recipient:
    """The public half of an X25519 age key: who a file is encrypted to."""

    public_bytes: bytes

    def __post_init__(self) -> None:
        if len(self.public_bytes) != X25519_KEY_SIZE:
            raise KeyFormatError(
                f"an X25519 recipient is {X25519_KEY_SIZE} bytes, got {len(self.public_bytes)}"
            )

    @classmethod
    def from_string(cls, text: str) -> Recipient:
        """Parse ``age1...``; the error says what is wrong so an operator can fix the policy.

        Lowercase only, as ``age -r`` takes it: a recipient we accept must be one the
        client's own ``age`` accepts too.
        """
        text = text.strip()
        if text != text.lower():
            raise KeyFormatError("not an age recipient: write it in lowercase (age1...)")
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as error:
            raise KeyFormatError(f"not an age recipient (age1...): {error}") from None
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError(
                "not an age X25519 recipient: it must start with 'age1' "
                "(post-quantum, SSH and plugin recipients are not supported)"
            )
        if len(data) != X25519_KEY_SIZE:
            raise KeyFormatError(f"age recipient holds {len(data)} bytes, expected 32")
        return cls(data)

    def to_string(self) -> str:
        """The ``age1...`` form that ``age -r`` accepts."""
        return bech32.encode(RECIPIENT_HRP, self.public_bytes)

    def fingerprint(self) -> str:
        """SHA-256 hex of the raw public key: a stable, opaque name for catalogs and logs."""
        return hashlib.sha256(self.public_bytes).hexdigest()

    def __str__(self) -> str:
        return self.to_string()


class Identity:
    """The secret half of an X25519 age key: what can open files sent to ``recipient``.

    Deliberately not a dataclass: its ``repr`` and ``str`` show only the recipient
    fingerprint, so a stray log line or traceback cannot print the secret.
    """

    __slots__ = ("_private_key", "_secret", "recipient")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != X25519_KEY_SIZE:
            raise KeyFormatError(f"an X25519 identity is {X25519_KEY_SIZE} bytes")
        self._secret = bytes(secret)
        self._private_key = X25519PrivateKey.from_private_bytes(self._secret)
        self.recipient = Recipient(self._private_key.public_key().public_bytes_raw())

    @classmethod
    def from_string(cls, text: str) -> Identity:
        """Parse ``AGE-SECRET-KEY-1...``, uppercase only, as ``age -i`` takes it."""
        text = text.strip()
        if text != text.upper():
            raise KeyFormatError(
                "not an age identity: it is written in uppercase (AGE-SECRET-KEY-1...); "
                "give the key line, not the whole key file"
            )
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as error:
            raise KeyFormatError(f"not an age identity (AGE-SECRET-KEY-1...): {error}") from None
        if hrp != IDENTITY_HRP.lower() or len(data) != X25519_KEY_SIZE:
            raise KeyFormatError(
                "not an age X25519 identity: it must be AGE-SECRET-KEY-1 followed by 32 bytes "
                "(post-quantum and plugin identities are not supported)"
            )
        return cls(data)

    def to_string(self) -> str:
        """The ``AGE-SECRET-KEY-1...`` form, uppercase, as ``age-keygen`` writes it. SECRET."""
        return bech32.encode(IDENTITY_HRP, self._secret).upper()

    def shared_secret(self, peer_share: bytes) -> bytes:
        """X25519(identity, peer share); all-zero for a low-order share.

        Returns the all-zero value instead of raising so that the caller, who knows the
        format rule ("MUST abort"), decides what to do with it.
        """
        try:
            return self._private_key.exchange(X25519PublicKey.from_public_bytes(peer_share))
        except ValueError:  # OpenSSL refuses to return the all-zero shared secret
            return bytes(X25519_KEY_SIZE)

    def __repr__(self) -> str:
        return f"Identity(recipient_fingerprint={self.recipient.fingerprint()[:16]}...)"

    __str__ = __repr__


def generate_identity() -> Identity:
    """A new X25519 identity from the OS CSPRNG (the only randomness in this module)."""
    return Identity(os.urandom(X25519_KEY_SIZE))
