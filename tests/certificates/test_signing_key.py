"""The certificate key file: created once with mode 0600, never replaced, never exposed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from retention_pipeline.envelope.bundle import (
    generate_signing_key,
    load_public_key_pem,
    load_signing_key,
    public_key_pem,
    signing_key_fingerprint,
)
from retention_pipeline.envelope.dsse import CertificateError
from retention_pipeline.errors import ConfigError


def test_created_when_absent_with_mode_0600_then_loaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "certificates.ed25519"
    key = load_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_signing_key(path)
    assert public_key_pem(again) == public_key_pem(key)


def test_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "certificates.ed25519"
    generate_signing_key(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="refusing to replace"):
        generate_signing_key(path)
    assert path.read_bytes() == before


def test_absent_without_create_and_loose_mode_and_garbage_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "certificates.ed25519"
    with pytest.raises(ConfigError, match="does not exist"):
        load_signing_key(path, create=False)
    generate_signing_key(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_signing_key(path)
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not an unencrypted PEM") as caught:
        load_signing_key(path)
    assert str(path) in str(caught.value)


def test_public_pem_and_fingerprint(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path / "k")
    pem = public_key_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    public = load_public_key_pem(pem.encode())
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert signing_key_fingerprint(public) == hashlib.sha256(raw).hexdigest()
    with pytest.raises(CertificateError, match=r"pub\.pem is not a PEM public key"):
        load_public_key_pem(b"junk", "pub.pem")
