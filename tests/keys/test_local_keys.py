"""Local custody only: the master key file, its permissions, and the blob layout."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from retention_pipeline.adapters.local_keys import (
    AAD_PREFIX,
    BLOB_VERSION,
    MASTER_KEY_SIZE,
    LocalKeyCustody,
    kek_fingerprint,
    open_sealed,
    seal,
)
from retention_pipeline.ports.keys import KeyCustodyError, KeyUnavailableError
from tests.keys.conftest import AgeKeyPair


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_master_key_is_created_on_first_use_private_to_its_owner(tmp_path: Path) -> None:
    key_file = tmp_path / "home" / "keys" / "master.key"
    custody = LocalKeyCustody(key_file)
    assert not key_file.exists()  # constructing reads nothing, creates nothing

    kek_id = custody.create("acme-sas")

    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    master = key_file.read_bytes()
    assert len(master) == MASTER_KEY_SIZE
    assert kek_id == kek_fingerprint(master) and len(kek_id) == 16
    assert [p.name for p in key_file.parent.iterdir()] == ["master.key"]  # no temp left


def test_the_master_key_persists_across_instances(tmp_path: Path, keypair: AgeKeyPair) -> None:
    key_file = tmp_path / "keys" / "master.key"
    wrapped = LocalKeyCustody(key_file).wrap("acme-sas", keypair.identity)

    assert LocalKeyCustody(key_file).unwrap(wrapped, "acme-sas") == keypair.identity


def test_concurrent_first_use_ends_with_one_master_key(tmp_path: Path) -> None:
    """Racing workers must not overwrite each other's new master key."""
    key_file = tmp_path / "keys" / "master.key"
    custodies = [LocalKeyCustody(key_file) for _ in range(16)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        kek_ids = set(pool.map(lambda custody: custody.create("acme-sas"), custodies))

    assert kek_ids == {kek_fingerprint(key_file.read_bytes())}


def test_a_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_bytes(os.urandom(MASTER_KEY_SIZE))
    key_file.chmod(0o644)

    with pytest.raises(KeyCustodyError) as refused:
        LocalKeyCustody(key_file).create("acme-sas")

    assert str(key_file) in str(refused.value)
    assert "chmod 600" in str(refused.value)
    assert mode(key_file) == 0o644  # refused, not silently "fixed"


def test_a_master_key_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_bytes(b"too short")
    key_file.chmod(0o600)

    with pytest.raises(KeyCustodyError, match="32-byte") as refused:
        LocalKeyCustody(key_file).create("acme-sas")

    assert str(key_file) in str(refused.value)
    assert key_file.read_bytes() == b"too short"  # never replaced by a new key


def test_state_of_another_master_key_is_not_claimed(tmp_path: Path) -> None:
    custody = LocalKeyCustody(tmp_path / "keys" / "master.key")
    custody.create("other-client")

    with pytest.raises(KeyUnavailableError, match="0123456789abcdef"):
        custody.state("acme-sas", "0123456789abcdef")


def test_a_lost_master_key_is_never_replaced_once_client_keys_depend_on_it(
    tmp_path: Path, keypair: AgeKeyPair
) -> None:
    """A mistyped or deleted master key file must not quietly become a second key."""
    key_file = tmp_path / "keys" / "master.key"
    wrapped = LocalKeyCustody(key_file).wrap("acme-sas", keypair.identity)
    key_file.unlink()
    custody = LocalKeyCustody(key_file, may_create=lambda: False)

    for attempt in (
        lambda: custody.create("beta-sas"),
        lambda: custody.wrap("beta-sas", keypair.identity),
        lambda: custody.unwrap(wrapped, "acme-sas"),
        lambda: custody.state("acme-sas", wrapped.kek_id),
    ):
        with pytest.raises(KeyUnavailableError, match="does not exist") as refused:
            attempt()
        assert str(key_file) in str(refused.value)
    assert not key_file.exists()


def test_reading_never_creates_a_master_key(tmp_path: Path, keypair: AgeKeyPair) -> None:
    key_file = tmp_path / "keys" / "master.key"
    wrapped = LocalKeyCustody(tmp_path / "first.key").wrap("acme-sas", keypair.identity)

    with pytest.raises(KeyUnavailableError, match="does not exist"):
        LocalKeyCustody(key_file).unwrap(wrapped, "acme-sas")
    with pytest.raises(KeyUnavailableError, match="does not exist"):
        LocalKeyCustody(key_file).state("acme-sas", wrapped.kek_id)
    assert not key_file.exists()


def test_blob_layout_is_version_nonce_ciphertext_with_the_client_as_associated_data() -> None:
    master, nonce, identity = bytes(range(32)), bytes(12), b"AGE-SECRET-KEY-1TEST"

    blob = seal(master, "acme-sas", identity, nonce)

    assert blob[0] == BLOB_VERSION
    assert blob[1:13] == nonce
    assert len(blob) == 1 + 12 + len(identity) + 16
    assert AAD_PREFIX == b"retention-pipeline/client-key/v1\0"
    assert open_sealed(master, "acme-sas", blob) == identity
    assert seal(master, "acme-sas", identity, nonce) == blob  # deterministic given the nonce
    assert seal(master, "acme-sat", identity, nonce) != blob  # the client id is bound
