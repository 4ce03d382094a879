"""A backup killed with SIGKILL leaves no complete row and nothing cleanup cannot find.

The backup runs in a subprocess and is killed at three moments:

* during the dump: the real CLI, blocked on a table another session holds locked
  (PostgreSQL), killed once the server shows it waiting for that lock;
* during the upload: after more than one part was sent (an open S3 multipart upload,
  or a folder store's partial file), using ``stalled_backup``;
* before the catalog write: the object is stored, the read-back stalls.

After each kill: no ``complete`` row; ``cleanup`` with the default grace leaves the
fresh attempt alone; the next backup succeeds; ``cleanup --grace 0h`` removes the
leftover and marks the row failed, without touching the new backup; a second cleanup
finds nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from retention_pipeline.errors import RetentionError
from retention_pipeline.ports.store import ObjectStore
from tests.backup.conftest import BackupHome, backed_up

Databases = Callable[..., AbstractContextManager[str]]
ROOT = Path(__file__).resolve().parents[2]
WAIT_LIMIT = 120.0  # a hang guard only: every wait below normally ends within seconds
NOTHING_LEFT = (
    "acme-sas: 0 unfinished uploads aborted, 0 leftover versions deleted "
    "(0 unknown to the catalog), 0 abandoned attempts marked failed"
)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    """Poll until ``condition`` holds; fail (with the backup's stderr) if it never does."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the backup ended (rc {process.returncode}) before {what}: {err!r}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no handler, no finally block, no cleanup of any kind runs."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def start(home: BackupHome, args: list[str], env_url: str) -> subprocess.Popen[bytes]:
    """Run ``python ARGS`` from the repository with the client's source URL set."""
    env = {**os.environ, "BT_CRM_A_URL": env_url}
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def leftovers(store: ObjectStore) -> tuple[int, list[str]]:
    """Unfinished uploads and stored keys under the client's prefix."""
    uploads = len(list(store.list_unfinished_uploads("acme-sas/")))
    return uploads, [v.key for v in store.list_versions("acme-sas/")]


@contextmanager
def locked_table(url: str, table: str) -> Iterator[Callable[[], bool]]:
    """Hold ACCESS EXCLUSIVE on ``table``; yield "is somebody waiting for it?"."""
    engine = sa.create_engine(url)
    watcher = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    database = sa.engine.make_url(url).database
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock'"
    )

    def someone_waits() -> bool:
        with watcher.connect() as conn:
            return bool(conn.execute(query, {"db": database}).scalar())

    try:
        with engine.connect() as holder:
            holder.execute(sa.text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield someone_waits
            holder.rollback()
    finally:
        engine.dispose()
        watcher.dispose()


def after_the_kill(home: BackupHome, storage: str, expected: str) -> None:
    """The checks every kill must pass (see the module docstring)."""
    [stale] = home.points("acme-sas")
    assert stale.status == "pending"
    store = home.installation().store(storage)
    before = leftovers(store)

    run = home.cli("cleanup")
    assert run.rc == 0, run.err
    assert NOTHING_LEFT in run.out  # a young attempt may still be running: left alone
    assert leftovers(store) == before
    assert home.points("acme-sas")[0].status == "pending"

    run = home.cli("backup", "acme-sas")
    assert run.rc == 0, run.err
    [fresh] = home.complete("acme-sas")

    run = home.cli("cleanup", "--grace", "0h")
    assert run.rc == 0, run.err
    assert expected in run.out
    by_id = {p.id: p for p in home.points("acme-sas")}
    assert by_id[stale.id].status == "failed"
    assert by_id[fresh.id].status == "complete"
    assert leftovers(store) == (0, [fresh.key])

    run = home.cli("cleanup", "--grace", "0h")
    assert NOTHING_LEFT in run.out
    assert home.cli("verify", fresh.id).rc == 0


def test_kill_during_the_dump(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("postgresql") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        with locked_table(source, "contacts") as someone_waits:
            cli = ["-m", "retention_pipeline", "backup", "acme-sas", "--home", str(home.path)]
            process = start(home, cli, source)
            wait_for(someone_waits, process, "the dump waited on the locked table")
            assert [p.status for p in home.points("acme-sas")] == ["pending"]
            kill(process)
        assert leftovers(home.installation().store("folder")) == (0, [])
        after_the_kill(
            home,
            "folder",
            "0 unfinished uploads aborted, 0 leftover versions "
            "deleted (0 unknown to the catalog), 1 abandoned attempts marked failed",
        )


@pytest.mark.parametrize("storage", ["s3", "folder"])
@pytest.mark.parametrize("phase", ["upload", "catalog"])
def test_kill_during_the_upload_and_before_the_catalog_write(
    phase: str,
    storage: str,
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "big-scan.bin").write_bytes(os.urandom(12 * 1024 * 1024))  # > one part
    marker = tmp_path / "stalled"
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=documents, storage=storage)
        args = ["-m", "tests.backup.stalled_backup", str(home.path), "acme-sas", phase]
        process = start(home, [*args, str(marker)], source)
        wait_for(marker.exists, process, f"the backup reached the {phase} stall")
        kill(process)

        store = home.installation().store(storage)
        if phase == "upload":
            assert leftovers(store) == (1, [])
            expected = "1 unfinished uploads aborted, 0 leftover versions deleted"
        else:
            [stale] = home.points("acme-sas")
            assert leftovers(store) == (0, [stale.key])
            expected = "0 unfinished uploads aborted, 1 leftover versions deleted"
        after_the_kill(home, storage, expected + " (0 unknown to the catalog), 1 abandoned")


def test_cleanup_finds_leftovers_in_a_store_the_policy_no_longer_names(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "stalled"
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage="folder")
        args = ["-m", "tests.backup.stalled_backup", str(home.path), "acme-sas", "catalog"]
        process = start(home, [*args, str(marker)], source)
        wait_for(marker.exists, process, "the backup reached the read-back")
        kill(process)
        [stale] = home.points("acme-sas")
        home.policy("acme-sas", storage="s3")  # the order form moved the backups

        run = home.cli("cleanup", "--grace", "0h")
        assert "1 leftover versions deleted" in run.out
        assert "1 abandoned attempts marked failed" in run.out
        assert leftovers(home.installation().store("folder")) == (0, [])
        assert home.installation().catalog.get_recovery_point(stale.id).status == "failed"


def test_cleanup_goes_on_past_a_client_whose_store_fails(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage="s3")
        home.policy("globex-io", storage="folder")
    orphan = "globex-io/recovery-points/rp-orphan.tar.zst.age"
    home.installation().store("folder").put(orphan, [b"left by a killed backup"])
    settings = home.path / "retention.yaml"
    settings.write_text(settings.read_text().replace(home.bucket, "no-such-bucket-rp"))

    run = home.cli("cleanup", "--grace", "0h", "--delete-unknown")
    assert run.rc == 1
    assert "acme-sas: cleanup failed: store 's3'" in run.err
    assert "globex-io: 0 unfinished uploads aborted, 1 leftover versions deleted" in run.out
    assert not home.folder_path(orphan).exists()


def test_cleanup_keeps_objects_the_catalog_does_not_know_unless_told(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object no row knows is what a lost or older catalog looks like: never a crash's
    leftover (the row comes first), so cleanup does not delete it on that catalog's word."""
    kept = backed_up(home, databases, monkeypatch, storage="folder")
    forgotten = "acme-sas/recovery-points/rp-20260101T000000Z-0badc0de.tar.zst.age"
    store = home.installation().store("folder")
    store.put(forgotten, [b"a backup the catalog no longer knows"])

    run = home.cli("cleanup", "--grace", "0h")
    assert run.rc == 0, run.err
    assert "0 leftover versions deleted (0 unknown to the catalog)" in run.out
    assert "1 stored objects unknown to the catalog were kept" in run.err
    assert "--delete-unknown" in run.err
    assert sorted(leftovers(store)[1]) == sorted([kept.key, forgotten])

    run = home.cli("cleanup", "--grace", "0h", "--delete-unknown")
    assert run.rc == 0, run.err
    assert "1 leftover versions deleted (1 unknown to the catalog)" in run.out
    assert leftovers(store) == (0, [kept.key])


def test_a_store_that_cannot_take_a_backup_fails_it_before_the_dump(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config check and backup probe the store: versioning off, a missing bucket."""
    s3 = home.moto.client("s3")
    s3.put_bucket_versioning(Bucket=home.bucket, VersioningConfiguration={"Status": "Suspended"})
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage="s3")
        dumps: list[object] = []
        monkeypatch.setattr(
            "retention_pipeline.bootstrap.Installation.open_dumper",
            lambda self, url: dumps.append(url),
        )
        check = home.cli("config", "check")
        assert check.rc == 1
        assert "store folder: ok" in check.out
        assert "store s3: FAILED" in check.err and "versioning suspended" in check.err
        run = home.cli("backup", "acme-sas")
        assert run.rc == 1
        assert "has versioning suspended; enable versioning on the bucket" in run.err

        settings = home.path / "retention.yaml"
        settings.write_text(settings.read_text().replace(home.bucket, "no-such-bucket-rp"))
        run = home.cli("backup", "acme-sas")
        assert run.rc == 1
        assert "bucket no-such-bucket-rp does not exist; create it" in run.err
    assert dumps == []  # refused before any dump started
    assert home.points("acme-sas") == []  # and before any attempt was recorded
    assert s3.list_object_versions(Bucket=home.bucket).get("Versions", []) == []


def test_a_bucket_whose_versioning_stops_mid_way_fails_the_put_saying_so(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = home.moto.client("s3")
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", storage="s3")
        service = home.installation().backup_service()
        store = service.store("s3")
        probe = store.probe

        def versioning_suspended_after_the_probe() -> None:
            probe()
            s3.put_bucket_versioning(
                Bucket=home.bucket, VersioningConfiguration={"Status": "Suspended"}
            )

        monkeypatch.setattr(store, "probe", versioning_suspended_after_the_probe)
        with pytest.raises(RetentionError, match="versioning is off or suspended"):
            service.backup("acme-sas")
    assert [p.status for p in home.points("acme-sas")] == ["failed"]
    assert s3.list_object_versions(Bucket=home.bucket).get("Versions", []) == []
