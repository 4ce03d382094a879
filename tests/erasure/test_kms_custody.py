"""KMS custody: erasure schedules the key's deletion with the minimum window and says when."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from retention_pipeline.ports.keys import KeyCustodyError
from tests.erasure.conftest import CLIENT, ErasureHome, now


def test_kms_key_is_scheduled_for_deletion_and_the_date_is_certified(
    make_home: Callable[..., ErasureHome],
) -> None:
    home = make_home("aws-kms")
    started = now()
    run = home.erase()
    assert run.rc == 0, run.err

    [key] = json.loads(home.cli("keys", "list", "--json").out)
    assert key["custody"] == "aws-kms" and key["state"] == "pending_deletion"
    deletion = datetime.fromisoformat(key["deletion_date"])
    assert started + timedelta(days=6) < deletion < started + timedelta(days=8)
    catalog = home.installation().catalog
    record = catalog.get_client_key(CLIENT)
    assert record is not None and record.wrapped is None
    kms = home.moto.client("kms")
    meta = kms.describe_key(KeyId=record.kek_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    with pytest.raises(KeyCustodyError):  # moto would still decrypt; our code refuses
        home.installation().keyring.identity_for(CLIENT)

    [certificate] = catalog.list_certificates(CLIENT)
    [request] = catalog.list_erasure_requests(CLIENT)
    destruction = request.details["key_destruction"]
    assert destruction["custody"] == "aws-kms"
    assert destruction["method"] == "kms-schedule-key-deletion"
    assert destruction["deletion_date"] == deletion.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert certificate.status == "completed"
