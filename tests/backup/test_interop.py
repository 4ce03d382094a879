"""A client reads its own backups with Debian's ``age``, ``zstd`` and ``tar``.

The stored object is read raw (from the folder store's file, or from the S3 bucket),
decrypted with ``age -d -i`` and a key pair made by ``age-keygen``, decompressed with
``zstd -d`` and listed with ``tar -t``: ``manifest.json`` comes first. With
``hoster_can_decrypt: false`` the hoster's tools refuse to read what only the client can.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest

from retention_pipeline import audit_tasks
from retention_pipeline.envelope.age_keys import Recipient
from tests.backup.conftest import BackupHome, age_keygen, make_documents

Databases = Callable[..., AbstractContextManager[str]]


def client_decrypts(ciphertext: bytes, identity: Path) -> bytes:
    """What ``age -d -i IDENTITY`` makes of the stored object: the zstd tar."""
    return subprocess.run(
        ["age", "-d", "-i", str(identity)], input=ciphertext, capture_output=True, check=True
    ).stdout


def tar_listing(compressed: bytes) -> list[str]:
    """``zstd -d | tar -t`` over the decrypted bytes."""
    tar = subprocess.run(["zstd", "-d", "-c"], input=compressed, capture_output=True, check=True)
    listing = subprocess.run(["tar", "-t"], input=tar.stdout, capture_output=True, check=True)
    return listing.stdout.decode().splitlines()


def manifest_of(compressed: bytes) -> dict[str, object]:
    """The ``manifest.json`` member, read with the standard tools' output."""
    tar = subprocess.run(["zstd", "-d", "-c"], input=compressed, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(tar.stdout)) as archive:
        member = archive.extractfile("manifest.json")
        assert member is not None
        return dict(json.loads(member.read()))


@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_client_decrypts_its_backup_with_the_age_cli(
    storage: str,
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity, recipient = age_keygen(tmp_path / "client")
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        docs = make_documents(tmp_path / "documents")
        home.policy("acme-sas", documents=docs, storage=storage, recipients=(recipient,))
        assert home.cli("backup", "acme-sas").rc == 0
    [rp] = home.complete("acme-sas")

    compressed = client_decrypts(home.stored_bytes(rp), identity)
    listing = tar_listing(compressed)
    assert listing[0] == "manifest.json"
    assert len(listing) > 2
    manifest = manifest_of(compressed)
    assert (manifest["client"], manifest["recovery_point"]) == ("acme-sas", rp.id)

    # the hoster's key and the client's own recipient, both recorded for audits
    [hoster_key] = home.installation().catalog.list_client_keys()
    client_fp = Recipient.from_string(recipient).fingerprint()
    assert rp.recipients == (hoster_key.fingerprint, client_fp)
    # and the hoster can still verify it
    verify = home.cli("verify", rp.id)
    assert verify.rc == 0, verify.err


def test_hoster_cannot_decrypt_when_the_order_form_says_so(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, recipient = age_keygen(tmp_path / "client")
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", recipients=(recipient,), hoster_can_decrypt=False)
        backup = home.cli("backup", "acme-sas")
        assert backup.rc == 0, backup.err
        [rp] = home.complete("acme-sas")
        assert rp.recipients == (Recipient.from_string(recipient).fingerprint(),)

        for args in (("verify", rp.id), ("restore", rp.id, "--to", target)):
            run = home.cli(*args)
            assert run.rc == 3, run.out + run.err
            assert "the hoster cannot decrypt its backups" in run.err
            assert "Traceback" not in run.err

    listing = tar_listing(client_decrypts(home.stored_bytes(rp), identity))
    assert listing[0] == "manifest.json"
    # no hoster key pair was made: nothing the hoster holds could decrypt this client
    assert "acme-sas" not in home.cli("keys", "list", "--json").out


def test_points_taken_while_the_hoster_could_not_decrypt_stay_refused_not_tampered(
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity, recipient = age_keygen(tmp_path / "client")
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", recipients=(recipient,), hoster_can_decrypt=False)
        assert home.cli("backup", "acme-sas").rc == 0
        [client_only] = home.complete("acme-sas")

        # the order form changes: from now on the hoster holds a key too
        home.policy("acme-sas", recipients=(recipient,), hoster_can_decrypt=True)
        assert home.cli("backup", "acme-sas").rc == 0

        for args in (("verify", client_only.id), ("restore", client_only.id, "--to", target)):
            run = home.cli(*args)
            assert run.rc == 3, run.out + run.err
            assert "encrypted to the client's own recipients only" in run.err
            assert "altered" not in run.err
        [newer] = [p for p in home.complete("acme-sas") if p.id != client_only.id]
        assert home.cli("verify", newer.id).rc == 0
        # the daily integrity slice leaves it out instead of raising a false alarm
        batches = audit_tasks.integrity_slice(datetime.now(UTC), 7, home=str(home.path))
        assert [rp for batch in batches for rp in batch] == [newer.id]
        assert home.cli("restore", newer.id, "--to", target).rc == 0

    # the client still decrypts the old point with its own identity
    listing = tar_listing(client_decrypts(home.stored_bytes(client_only), identity))
    assert listing[0] == "manifest.json"
