"""Backup then restore through the CLI: the restored database equals the source.

One test per engine on the real PostgreSQL and MariaDB servers and on SQLite, each
through ``retention-pipeline backup`` and ``restore --to <fresh empty database>
--documents DIR``; one more on the S3 store (moto) with AWS KMS key custody (moto).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.backup.conftest import ENGINES, BackupHome, backed_up, make_documents, tree
from tests.support.crm import TABLES, insert_company, table_rows

Databases = Callable[..., AbstractContextManager[str]]


def round_trip(
    home: BackupHome,
    databases: Databases,
    engine: str,
    tmp_path: Path,
    storage: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Back a CRM and its documents up, restore both, and compare them with the source."""
    docs = make_documents(tmp_path / "documents")
    with databases(engine) as source, databases(engine, filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs, storage=storage)

        backup = home.cli("backup", "acme-sas")
        assert backup.rc == 0, backup.err
        [rp] = home.complete("acme-sas")
        assert rp.store == storage
        assert f"recovery point {rp.id} complete" in backup.out

        restored = tmp_path / "restored"
        run = home.cli("restore", rp.id, "--to", target, "--documents", str(restored))
        assert run.rc == 0, run.out + run.err
        assert "verification: OK" in run.out

        for table in TABLES:
            assert table_rows(target, table) == table_rows(source, table), table
        # counters came along: the next company gets the same id in both databases
        assert insert_company(target, "after restore") == insert_company(source, "after")
        assert tree(restored) == tree(docs)


@pytest.mark.parametrize("engine", ENGINES)
def test_restored_database_and_documents_equal_the_source(
    engine: str,
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    round_trip(home, databases, engine, tmp_path, "folder", monkeypatch)
    master = home.path / "keys" / "master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600


def test_round_trip_on_s3_with_kms_custody(
    make_home: Callable[[str], BackupHome],
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = make_home("aws-kms")
    round_trip(home, databases, "postgresql", tmp_path, "s3", monkeypatch)

    keys = home.cli("keys", "list", "--json")
    assert keys.rc == 0
    assert '"custody": "aws-kms"' in keys.out
    [rp] = home.complete("acme-sas")
    verify = home.cli("verify", rp.id)
    assert verify.rc == 0, verify.err
    assert "verification: OK" in verify.out


def test_a_restore_without_a_documents_folder_says_they_were_not_written(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_documents(tmp_path / "documents")
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        assert home.cli("backup", "acme-sas").rc == 0
        [rp] = home.complete("acme-sas")
        run = home.cli("restore", rp.id, "--to", target)
        assert run.rc == 0, run.err
        assert f"{len(tree(docs))} documents\n  the documents were checked, not written" in run.out
        assert "verification: OK" in run.out


def test_the_points_table_shows_every_field_and_the_whole_digest(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    listing = home.cli("points", "acme-sas")
    assert listing.rc == 0
    header, row = listing.out.splitlines()[:2]
    assert header.split() == ["ID", "CLIENT", "STORE", "KEY", "SIZE", "STATUS", "CREATED", "SHA256"]
    assert row.split()[:6] == [rp.id, "acme-sas", "folder", rp.key, str(rp.size), "complete"]
    assert row.split()[-1] == rp.sha256  # in full


def test_keys_list_shows_a_kms_key_someone_disabled(
    make_home: Callable[[str], BackupHome],
    databases: Databases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = make_home("aws-kms")
    rp = backed_up(home, databases, monkeypatch)
    [listed] = json.loads(home.cli("keys", "list", "--json").out)
    assert (listed["state"], listed["kek_state"]) == ("active", "active")

    key = home.installation().catalog.get_client_key("acme-sas")
    assert key is not None
    home.moto.client("kms").disable_key(KeyId=key.kek_id.rsplit("/", 1)[1])
    [listed] = json.loads(home.cli("keys", "list", "--json").out)
    assert (listed["state"], listed["kek_state"]) == ("active", "disabled")
    assert home.cli("keys", "list").out.splitlines()[1].split()[2:4] == ["active", "disabled"]
    verify = home.cli("verify", rp.id)
    assert verify.rc != 0
    assert "enable it again (aws kms enable-key)" in verify.err
