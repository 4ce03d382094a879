"""A scheduled slot is backed up once: a repeat reuses it, a retry takes its row over."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention_pipeline import tasks
from retention_pipeline.errors import RetentionError
from retention_pipeline.ports.store import NULL_VERSION
from retention_pipeline.services.cleanup import cleanup_client
from retention_pipeline.services.policies import current_policy
from tests.backup.conftest import BackupHome

Databases = Callable[..., AbstractContextManager[str]]
SLOT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
WAIT_SECONDS = 60.0  # a hang guard only: each wait normally ends within a second


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


@pytest.mark.parametrize("storage", ["folder", "s3"])
@pytest.mark.parametrize("moment", ["before the read-back", "before the catalog write"])
def test_a_run_that_takes_the_slot_over_mid_way_keeps_it_whole(
    storage: str,
    moment: str,
    home: BackupHome,
    databases: Databases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A zombie run and its retry of one slot, interleaved: the retry takes the row over
    (removing what the first stored) and has written its own object when the first goes
    on; the first finishes, then the retry records its object. The slot must end with one
    complete row whose object is in the store: neither run may record or delete the
    other's object.

    The client's lock keeps two runs from overlapping (test_client_lock); they still can
    when the lock was lost while the first ran (on PostgreSQL, its session dropped), so
    the retry runs without it here: the slot's takeover rules must hold on their own."""
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage=storage)
        first = home.installation().backup_service()
        retry = home.installation().backup_service()
        monkeypatch.setattr(retry.catalog, "client_lock", lambda *a, **k: nullcontext())
        retry_ready, first_done = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def retry_waits_for_the_first(*args: object, **kwargs: object) -> object:
            retry_ready.set()
            assert first_done.wait(WAIT_SECONDS)
            return complete_for_retry(*args, **kwargs)

        complete_for_retry = retry.catalog.complete_recovery_point
        monkeypatch.setattr(retry.catalog, "complete_recovery_point", retry_waits_for_the_first)

        def run_retry() -> None:
            try:
                outcome["retry"] = retry.backup("acme-sas", scheduled_for=SLOT)
            except RetentionError as error:
                outcome["retry"] = error

        racer = threading.Thread(target=run_retry)

        def retry_takes_over(original: Callable[..., object]) -> Callable[..., object]:
            def racing(*args: object, **kwargs: object) -> object:
                if not racer.is_alive() and "retry" not in outcome:
                    racer.start()
                    assert retry_ready.wait(WAIT_SECONDS)
                return original(*args, **kwargs)

            return racing

        if moment == "before the read-back":
            store = first.store(storage)
            monkeypatch.setattr(store, "head", retry_takes_over(store.head))
        else:
            complete = first.catalog.complete_recovery_point
            monkeypatch.setattr(
                first.catalog, "complete_recovery_point", retry_takes_over(complete)
            )
        try:
            with pytest.raises(RetentionError):
                first.backup("acme-sas", scheduled_for=SLOT)
        finally:
            first_done.set()
            racer.join(WAIT_SECONDS)

    assert not isinstance(outcome["retry"], Exception), outcome["retry"]
    [rp] = home.points("acme-sas")
    assert (rp.status, rp.attempts) == ("complete", 2)
    versions = home.installation().store(storage).list_versions("acme-sas/")
    assert [(v.key, v.version_id) for v in versions] == [(rp.key, rp.version_id)]
    assert home.cli("verify", rp.id).rc == 0
    assert home.cli("cleanup", "--grace", "0h").rc == 0
    assert home.cli("verify", rp.id).rc == 0


def test_the_upload_is_sized_before_its_first_byte(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 takes 10,000 parts: parts are sized from a bound of the object's size."""
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage="s3")
        service = home.installation().backup_service()
        store = service.store("s3")
        hints: list[int | None] = []
        put = store.put

        def recording_put(key: str, data: object, **kwargs: object) -> object:
            hints.append(kwargs.get("size_hint"))  # type: ignore[arg-type]
            return put(key, data, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "put", recording_put)
        result = service.backup("acme-sas")
    [hint] = hints
    assert hint is not None and result.size <= hint < result.size + 1024


def test_a_slot_done_and_expired_since_is_not_backed_up_again(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        first = home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
        installation = home.installation()  # retention expires the point: object, then row
        installation.store("folder").delete_versions([(first.key, NULL_VERSION)])
        installation.catalog.mark_recovery_point_deleted(
            first.recovery_point_id, "expired", datetime(2026, 5, 1, tzinfo=UTC)
        )
        again = home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
    assert again.reused and again.recovery_point_id == first.recovery_point_id
    assert [p.status for p in home.points("acme-sas")] == ["deleted"]
    assert list(home.installation().store("folder").list_versions("acme-sas/")) == []


def test_a_scheduled_batch_skips_a_client_no_longer_on_a_schedule(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed while automated, semi-manual when the batch (or its retry) runs."""
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", mode="semi_manual")
        for _ in range(2):  # the task and its retry
            assert tasks.back_up_batch(["acme-sas"], SLOT, home=str(home.path)) == []
    assert home.points("acme-sas") == []


@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_cleanup_keeps_the_version_a_retry_completed_while_it_listed(
    storage: str,
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cleanup whose listing pages past a slot's retry must judge the retry's version by
    the row as it is after the listing (complete), not as it was before (failed)."""
    home.policy("acme-sas", storage=storage)
    monkeypatch.setenv("BT_CRM_A_URL", f"sqlite:///{tmp_path / 'no-such-folder' / 'crm.sqlite'}")
    with pytest.raises(RetentionError):
        home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
    [failed] = home.points("acme-sas")
    assert failed.status == "failed"

    installation = home.installation()
    real = installation.store(storage)

    class SlowListing:
        """The store, whose listing reaches the slot's key only after the retry ended."""

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def list_versions(self, prefix: str = "") -> object:
            retried = home.installation().backup_service().backup("acme-sas", scheduled_for=SLOT)
            assert retried.recovery_point_id == failed.id and not retried.reused
            return real.list_versions(prefix)

    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        report = cleanup_client(
            installation.catalog,
            current_policy(installation.catalog, "acme-sas"),
            lambda name: SlowListing(),  # type: ignore[arg-type, return-value]
            datetime.now(UTC),
        )
    assert report.deleted_versions == 0
    [rp] = home.points("acme-sas")
    assert (rp.status, rp.attempts) == ("complete", 2)
    assert home.cli("verify", rp.id).rc == 0
