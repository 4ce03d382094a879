"""The key custody contract (``ports/keys.py``), checked against every adapter.

What a user relies on: a client key wrapped today unwraps for that client and nobody
else, nothing in the catalog row reveals it, and once erasure destroys the key, no
one can unwrap it again.
"""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from retention_pipeline.adapters.local_keys import LocalKeyCustody
from retention_pipeline.ports.keys import (
    CustodyKind,
    KeyCustody,
    KeyCustodyError,
    KeyUnavailableError,
    WrappedIdentity,
    WrappedIdentityError,
)
from tests.keys.conftest import AgeKeyPair, CustodyHandle

AT = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def flip(blob: bytes, index: int) -> bytes:
    """``blob`` with one bit of byte ``index`` flipped."""
    changed = bytearray(blob)
    changed[index] ^= 0x01
    return bytes(changed)


def assert_no_key_material(error: BaseException, keypair: AgeKeyPair) -> None:
    """Error text names ids only: never the identity, nor a piece of it."""
    text = str(error)
    assert keypair.identity.decode() not in text
    assert keypair.identity.decode()[16:40] not in text


def test_every_handle_is_a_key_custody(handle: CustodyHandle) -> None:
    assert isinstance(handle.custody, KeyCustody)
    assert handle.custody.kind in ("local", "aws-kms")


def test_wrap_then_unwrap_returns_the_identity(handle: CustodyHandle, keypair: AgeKeyPair) -> None:
    custody, client = handle.custody, handle.new_client()
    kek_id = custody.create(client)

    wrapped = custody.wrap(client, keypair.identity)

    assert wrapped.custody == custody.kind
    assert wrapped.kek_id == kek_id
    assert wrapped.context == client
    assert custody.unwrap(wrapped, client) == keypair.identity


def test_unwrapped_identity_still_decrypts_what_age_encrypted(
    handle: CustodyHandle, keypair: AgeKeyPair
) -> None:
    """The client key survives custody intact: the standard age tool accepts it."""
    custody, client = handle.custody, handle.new_client()
    custody.create(client)
    backup = subprocess.run(
        ["age", "-r", keypair.recipient], input=b"recovery point", capture_output=True, check=True
    ).stdout
    identity_file = handle.tmp_path / "identity.txt"
    identity_file.write_bytes(custody.unwrap(custody.wrap(client, keypair.identity), client))

    plain = subprocess.run(
        ["age", "-d", "-i", str(identity_file)], input=backup, capture_output=True, check=True
    ).stdout

    assert plain == b"recovery point"


def test_the_wrapped_blob_does_not_contain_the_identity(
    handle: CustodyHandle, keypair: AgeKeyPair
) -> None:
    custody, client = handle.custody, handle.new_client()
    custody.create(client)

    wrapped = custody.wrap(client, keypair.identity)

    assert keypair.identity not in wrapped.blob
    assert keypair.identity[16:32] not in wrapped.blob  # not even the key's body
    assert keypair.identity not in repr(wrapped).encode()


def test_wrapping_twice_gives_different_blobs_that_both_unwrap(
    handle: CustodyHandle, keypair: AgeKeyPair
) -> None:
    custody, client = handle.custody, handle.new_client()
    custody.create(client)

    first, second = custody.wrap(client, keypair.identity), custody.wrap(client, keypair.identity)

    assert first.blob != second.blob
    assert custody.unwrap(first, client) == custody.unwrap(second, client) == keypair.identity


def test_create_is_idempotent(handle: CustodyHandle) -> None:
    custody, client = handle.custody, handle.new_client()

    assert custody.create(client) == custody.create(client)


def test_unwrap_for_another_client_is_refused(handle: CustodyHandle, keypair: AgeKeyPair) -> None:
    custody, owner, other = handle.custody, handle.new_client("owner"), handle.new_client("other")
    custody.create(owner)
    custody.create(other)
    wrapped = custody.wrap(owner, keypair.identity)

    with pytest.raises(WrappedIdentityError) as refused:
        custody.unwrap(wrapped, other)

    assert owner in str(refused.value) and other in str(refused.value)
    assert_no_key_material(refused.value, keypair)


def test_rewriting_the_context_does_not_move_a_key_to_another_client(
    handle: CustodyHandle, keypair: AgeKeyPair
) -> None:
    """The client id is authenticated inside the blob, not only checked beside it."""
    custody, owner, other = handle.custody, handle.new_client("owner"), handle.new_client("other")
    custody.create(owner)
    custody.create(other)
    forged = dataclasses.replace(custody.wrap(owner, keypair.identity), context=other)

    with pytest.raises(WrappedIdentityError) as refused:
        custody.unwrap(forged, other)

    assert_no_key_material(refused.value, keypair)


@pytest.mark.parametrize("where", ["last byte", "first ciphertext byte"])
def test_a_tampered_blob_is_refused(handle: CustodyHandle, keypair: AgeKeyPair, where: str) -> None:
    custody, client = handle.custody, handle.new_client()
    custody.create(client)
    wrapped = custody.wrap(client, keypair.identity)
    # The ciphertext (and its tag) end the blob in both formats; the identity is 74 bytes.
    index = -1 if where == "last byte" else len(wrapped.blob) - 16 - len(keypair.identity)
    tampered = dataclasses.replace(wrapped, blob=flip(wrapped.blob, index))

    with pytest.raises(WrappedIdentityError) as refused:
        custody.unwrap(tampered, client)

    assert_no_key_material(refused.value, keypair)


def test_a_truncated_blob_is_refused(handle: CustodyHandle, keypair: AgeKeyPair) -> None:
    custody, client = handle.custody, handle.new_client()
    custody.create(client)
    wrapped = custody.wrap(client, keypair.identity)

    with pytest.raises(KeyCustodyError):
        custody.unwrap(dataclasses.replace(wrapped, blob=wrapped.blob[:20]), client)


def test_a_blob_of_the_other_custody_kind_is_refused(
    handle: CustodyHandle, keypair: AgeKeyPair
) -> None:
    custody, client = handle.custody, handle.new_client()
    kek_id = custody.create(client)
    foreign_kind: CustodyKind = "aws-kms" if custody.kind == "local" else "local"
    foreign = WrappedIdentity(foreign_kind, kek_id, custody.wrap(client, b"x").blob, client)

    with pytest.raises(KeyCustodyError, match=foreign_kind):
        custody.unwrap(foreign, client)


def test_invalid_client_ids_and_identities_are_refused_before_any_io(
    handle: CustodyHandle,
) -> None:
    custody = handle.custody
    for bad in ("", "ab", "Acme", "acme/../x", "a" * 64, "acme sas"):
        with pytest.raises(KeyCustodyError, match="client id"):
            custody.create(bad)
    client = handle.new_client()
    custody.create(client)
    with pytest.raises(KeyCustodyError, match="non-empty"):
        custody.wrap(client, b"")
    with pytest.raises(KeyCustodyError, match="4096"):
        custody.wrap(client, b"k" * 4097)


def test_a_new_key_is_active(handle: CustodyHandle) -> None:
    custody, client = handle.custody, handle.new_client()
    kek_id = custody.create(client)

    state = custody.state(client, kek_id)

    assert (state.client_id, state.custody, state.kek_id) == (client, custody.kind, kek_id)
    assert state.state == "active" and state.deletion_date is None


def test_after_destroy_the_identity_cannot_be_unwrapped(
    handle: CustodyHandle, keypair: AgeKeyPair
) -> None:
    custody, client = handle.custody, handle.new_client()
    kek_id = custody.create(client)
    wrapped = custody.wrap(client, keypair.identity)

    destruction = custody.destroy(client, kek_id, AT)

    assert (destruction.client_id, destruction.kek_id) == (client, kek_id)
    assert destruction.custody == custody.kind and destruction.destroyed_at == AT
    if custody.kind == "aws-kms":
        # The key itself is scheduled for deletion: KMS's minimum window is 7 days.
        now = datetime.now(UTC)
        assert destruction.deletion_date is not None
        assert now + timedelta(days=6, hours=23) < destruction.deletion_date
        assert destruction.deletion_date < now + timedelta(days=7, hours=1)
        state = custody.state(client, kek_id)
        assert state.state == "pending_deletion"
        assert state.deletion_date == destruction.deletion_date
        with pytest.raises(KeyUnavailableError) as refused:
            custody.unwrap(wrapped, client)
    else:
        # The catalog deletes the wrapped blob; what the adapter can prove is that
        # a blob survives only with its master key: any other master cannot open it.
        assert destruction.method == "local: wrapped identity deleted"
        assert destruction.deletion_date is None
        elsewhere = LocalKeyCustody(handle.tmp_path / "other" / "master.key")
        elsewhere.create("another-client")  # a second installation's master key
        with pytest.raises(KeyUnavailableError, match="kek mismatch") as refused:
            elsewhere.unwrap(wrapped, client)
        assert kek_id in str(refused.value)
    assert_no_key_material(refused.value, keypair)


def test_destroy_is_idempotent(handle: CustodyHandle) -> None:
    custody, client = handle.custody, handle.new_client()
    kek_id = custody.create(client)

    first = custody.destroy(client, kek_id, AT)
    again = custody.destroy(client, kek_id, AT + timedelta(hours=1))

    assert again.deletion_date == first.deletion_date
    assert again.method == first.method
