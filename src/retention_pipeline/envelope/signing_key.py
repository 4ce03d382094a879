"""The certificate key: one Ed25519 key, kept apart from every client key.

It signs certificate envelopes and log checkpoints. Clients receive its public half (PEM,
``certificate pubkey``) and its fingerprint, the lowercase hex SHA-256 of the 32 raw
public-key bytes, which is also the DSSE ``keyid``. The private half is an unencrypted
PKCS#8 PEM file of mode 0600 (the installation's home folder is the trust boundary, as for
the local master key); a file readable by group or others is refused, as ssh does.
Errors name the file, never print key bytes.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from retention_pipeline.envelope.dsse import CertificateError, key_fingerprint
from retention_pipeline.errors import ConfigError


def signing_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw public key (what a client compares by eye)."""
    return key_fingerprint(public_key)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM that ``openssl pkeyutl -pubin`` and ``--pubkey`` read."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_public_key_pem(data: bytes, source: str = "public key") -> Ed25519PublicKey:
    """Parse an Ed25519 public key PEM; ``CertificateError`` naming ``source`` otherwise."""
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise CertificateError(f"{source} is not a PEM public key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateError(f"{source} is not an Ed25519 public key")
    return key


def generate_signing_key(path: Path) -> Ed25519PrivateKey:
    """Create a new key file at ``path`` (mode 0600); an existing file is never overwritten.

    Overwriting would orphan every certificate signed so far: clients verify with the
    old public key.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # written whole under a temporary name, then linked into place: another process
    # starting at the same moment reads the whole key or none, never half of one
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError as error:
            raise SigningKeyExistsError(
                f"certificate key file {path} already exists; refusing to replace it "
                "(certificates signed with it would no longer verify)"
            ) from error
    finally:
        temp.unlink(missing_ok=True)
    return key


class SigningKeyExistsError(ConfigError):
    """The key file appeared: never replaced (its certificates must keep verifying)."""


def load_signing_key(path: Path, *, create: bool = True) -> Ed25519PrivateKey:
    """Read the key file at ``path``; with ``create``, make a new one when it is absent."""
    if not path.exists():
        if not create:
            raise ConfigError(
                f"certificate key file {path} does not exist; set signing_key in "
                "retention.yaml to the existing key, or create one"
            )
        try:
            return generate_signing_key(path)
        except SigningKeyExistsError:
            pass  # another process made it a moment ago: use that one
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"certificate key file {path} has mode {mode:o}, readable by others; "
            f"run: chmod 600 {path}"
        )
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"certificate key file {path} is not an unencrypted PEM private key"
        ) from error
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"certificate key file {path} does not hold an Ed25519 key")
    return key
