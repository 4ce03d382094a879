"""Archive copies: one per period, on a separate store, verified before recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from retention_pipeline import bootstrap, tasks
from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.ports.store import StoredObject, StoreError
from retention_pipeline.services.archive import (
    ArchiveSourceCorruptError,
    ArchiveVerificationError,
)
from retention_pipeline.tasks import BatchFailedError
from tests.lifecycle.conftest import BackupAt, day


def test_one_verified_copy_per_month_and_a_rerun_copies_nothing(
    home: Path, backup_at: BackupAt
) -> None:
    jan_1, jan_15, feb_2 = backup_at(day(0)), backup_at(day(14)), backup_at(day(32))
    installation = bootstrap.load_installation(home)
    service = replace(installation.archive_service(), clock=lambda: day(33))

    run = service.archive_client("acme-sas")
    copies = installation.catalog.list_archive_copies("acme-sas")
    archived = {c.recovery_point_id for c in copies}
    assert archived == {jan_1.recovery_point_id, feb_2.recovery_point_id}
    assert len(run.copied) == 2
    for copy in copies:
        stored = home / "stores" / "archives" / copy.key
        assert copy.store == "archives"
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == copy.sha256
        rp = installation.catalog.get_recovery_point(copy.recovery_point_id)
        assert copy.sha256 == rp.sha256 and copy.size == rp.size

    assert service.archive_client("acme-sas").copied == []
    assert jan_15.recovery_point_id not in {c.recovery_point_id for c in copies}


def test_a_client_without_the_archive_option_is_not_archived(
    home: Path, backup_at: BackupAt
) -> None:
    policy = home / "policies" / "acme-sas.yaml"
    policy.write_text(policy.read_text().replace("enabled: true", "enabled: false"))
    from retention_pipeline.cli.main import main

    assert main(["policy", "apply", "--home", str(home)]) == 0
    backup_at(day(0))
    installation = bootstrap.load_installation(home)
    run = installation.archive_service().archive_client("acme-sas")
    assert run.copied == [] and run.skipped_reason == "archive option is off"
    assert not (home / "stores" / "archives").exists() or not any(
        (home / "stores" / "archives").rglob("*.age")
    )


class CorruptingStore(FolderStore):
    """A real folder store that damages one byte of what it is given (a faulty medium)."""

    def put(self, key: str, data: Any, **kwargs: Any) -> StoredObject:
        def damaged() -> Iterator[bytes]:
            first = True
            for chunk in data:
                if first and chunk:
                    chunk = bytes([chunk[0] ^ 1]) + chunk[1:]
                    first = False
                yield chunk

        return super().put(key, damaged(), **kwargs)


def test_a_copy_that_fails_verification_is_removed_and_the_run_fails(
    home: Path, backup_at: BackupAt
) -> None:
    backup_at(day(0))
    installation = bootstrap.load_installation(home)
    faulty = CorruptingStore("archives", home / "stores" / "archives", "eu-west-3")
    stores = {"backups": installation.store("backups"), "archives": faulty}
    service = replace(installation.archive_service(), store=stores.__getitem__)

    with pytest.raises(ArchiveVerificationError, match="the copy was removed"):
        service.archive_client("acme-sas")
    assert list(faulty.list_versions("acme-sas/")) == []
    assert installation.catalog.list_archive_copies("acme-sas") == []


def test_a_corrupt_source_is_named_as_such_and_other_clients_are_still_archived(
    home: Path, backup_at: BackupAt
) -> None:
    (home / "policies" / "globex-io.yaml").write_text(
        (home / "policies" / "acme-sas.yaml").read_text().replace("acme-sas", "globex-io")
    )
    from retention_pipeline.cli.main import main

    assert main(["policy", "apply", "--home", str(home)]) == 0
    victim = backup_at(day(0))
    installation = bootstrap.load_installation(home)
    globex = replace(installation.backup_service(), clock=lambda: day(0))
    globex.backup("globex-io", scheduled_for=day(0))
    stored = home / "stores" / "backups" / victim.key
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 1
    stored.write_bytes(bytes(data))

    with pytest.raises(BatchFailedError, match=r"acme-sas \(ArchiveSourceCorruptError\)"):
        tasks.archive_batch(["acme-sas", "globex-io"], home=str(home))
    copies = installation.catalog.list_archive_copies()
    assert {c.client_id for c in copies} == {"globex-io"}
    assert not any((home / "stores" / "archives" / "acme-sas").rglob("*.age"))
    with pytest.raises(ArchiveSourceCorruptError, match=f"verify {victim.recovery_point_id}"):
        installation.archive_service().archive_client("acme-sas")


def test_an_archive_store_that_cannot_take_a_copy_fails_before_reading(
    home: Path, backup_at: BackupAt
) -> None:
    backup_at(day(0))
    (home / "stores" / "archives").write_text("a file where the folder should be")
    installation = bootstrap.load_installation(home)
    with pytest.raises(StoreError, match="store 'archives': cannot create its folder"):
        installation.archive_service().archive_client("acme-sas")
