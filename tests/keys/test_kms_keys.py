"""KMS custody only: aliases and tags, key states, and what moto does not enforce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from retention_pipeline.adapters.kms_keys import KmsKeyCustody
from retention_pipeline.ports.keys import (
    KeyCustodyError,
    KeyUnavailableError,
    TransientKeyCustodyError,
)
from tests.keys.conftest import AgeKeyPair
from tests.support.moto import MotoEndpoint

AT = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def new_client() -> str:
    return f"kms-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def custody(moto: MotoEndpoint) -> KmsKeyCustody:
    """Built from the settings' fields, as bootstrap will build it."""
    return KmsKeyCustody(moto.region, endpoint_url=moto.url)


def test_create_makes_one_tagged_key_behind_the_client_alias(
    custody: KmsKeyCustody, moto: MotoEndpoint
) -> None:
    client, kms = new_client(), moto.client("kms")

    arn = custody.create(client)

    meta = kms.describe_key(KeyId=f"alias/retention-pipeline/{client}")["KeyMetadata"]
    assert meta["Arn"] == arn and meta["KeyState"] == "Enabled"
    tags = kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]
    assert {"TagKey": "client", "TagValue": client} in tags
    assert custody.create(client) == arn


def test_every_use_is_refused_while_the_key_is_pending_deletion(
    custody: KmsKeyCustody, moto: MotoEndpoint, keypair: AgeKeyPair
) -> None:
    client = new_client()
    arn = custody.create(client)
    wrapped = custody.wrap(client, keypair.identity)
    custody.destroy(client, arn, AT)

    # moto still decrypts with a key pending deletion; our DescribeKey check refuses.
    with pytest.raises(KeyUnavailableError, match="PendingDeletion") as caught:
        custody.unwrap(wrapped, client)
    assert "aws kms cancel-key-deletion" in str(caught.value)
    with pytest.raises(KeyUnavailableError):
        custody.wrap(client, keypair.identity)
    with pytest.raises(KeyUnavailableError):
        custody.create(client)  # no silent new key for a client being erased


def test_a_disabled_key_is_reported_and_refused(
    custody: KmsKeyCustody, moto: MotoEndpoint, keypair: AgeKeyPair
) -> None:
    client = new_client()
    arn = custody.create(client)
    wrapped = custody.wrap(client, keypair.identity)
    moto.client("kms").disable_key(KeyId=arn.rsplit("/", 1)[1])

    assert custody.state(client, arn).state == "disabled"
    with pytest.raises(KeyUnavailableError, match="Disabled") as caught:
        custody.unwrap(wrapped, client)
    assert "enable it again (aws kms enable-key)" in str(caught.value)
    assert "destroyed" not in str(caught.value)  # a disabled key can come back


def test_a_key_kms_no_longer_knows_is_destroyed(custody: KmsKeyCustody) -> None:
    client = new_client()
    gone = "arn:aws:kms:eu-west-3:123456789012:key/00000000-0000-0000-0000-000000000000"

    assert custody.state(client, gone).state == "destroyed"
    destruction = custody.destroy(client, gone, AT)
    assert destruction.deletion_date is None and "already deleted" in destruction.method


def test_destroy_refuses_another_clients_key(custody: KmsKeyCustody) -> None:
    owner, other = new_client(), new_client()
    arn = custody.create(owner)
    custody.create(other)

    with pytest.raises(KeyCustodyError, match="refusing to destroy"):
        custody.destroy(other, arn, AT)

    assert custody.state(owner, arn).state == "active"


def test_an_unreachable_endpoint_is_a_retryable_error(moto: MotoEndpoint) -> None:
    custody = KmsKeyCustody(moto.region, endpoint_url="http://127.0.0.1:9")

    with pytest.raises(TransientKeyCustodyError, match="cannot reach KMS"):
        custody.create(new_client())


def test_a_malformed_alias_prefix_is_refused() -> None:
    with pytest.raises(KeyCustodyError, match="key_alias_prefix"):
        KmsKeyCustody("eu-west-3", alias_prefix="retention-pipeline")
