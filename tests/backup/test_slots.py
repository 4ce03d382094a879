"""A scheduled slot is backed up once: a repeat reuses it, a retry takes its row over."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention_pipeline.errors import RetentionError
from tests.backup.conftest import BackupHome

Databases = Callable[..., AbstractContextManager[str]]
SLOT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_the_same_slot_twice_gives_one_recovery_point(
    storage: str, home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage=storage)
        first = home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
        again = home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
    assert not first.reused
    assert again.reused
    assert (again.recovery_point_id, again.key, again.sha256, again.size) == (
        first.recovery_point_id,
        first.key,
        first.sha256,
        first.size,
    )
    [rp] = home.points("acme-sas")
    assert rp.status == "complete" and rp.scheduled_for == SLOT
    store = home.installation().store(storage)
    assert [v.key for v in store.list_versions("acme-sas/")] == [rp.key]


def test_a_failed_slot_is_retried_in_place(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home.policy("acme-sas", storage="s3")
    monkeypatch.setenv("BT_CRM_A_URL", f"sqlite:///{tmp_path / 'no-such-folder' / 'crm.sqlite'}")
    with pytest.raises(RetentionError):
        home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
    [failed] = home.points("acme-sas")
    assert failed.status == "failed" and failed.attempts == 1

    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        result = home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
    [rp] = home.points("acme-sas")
    assert (rp.id, rp.status, rp.attempts) == (failed.id, "complete", 2)
    assert result.recovery_point_id == rp.id and not result.reused

    store = home.installation().store("s3")
    assert list(store.list_unfinished_uploads("acme-sas/")) == []
    assert [v.key for v in store.list_versions("acme-sas/")] == [rp.key]
    actions = [e.action for e in home.installation().catalog.evidence_entries()]
    assert actions.count("backup.failed") == 1 and actions.count("backup.completed") == 1
    run = home.cli("cleanup", "--grace", "0h")
    assert "0 unfinished uploads aborted, 0 leftover versions deleted" in run.out
    assert home.cli("verify", rp.id).rc == 0
