"""What restore and verify refuse: altered objects, swapped objects, occupied targets,
and clients whose order form has no backup option.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.envelope.manifest import DocumentEntry, ManifestError
from retention_pipeline.ports.catalog import RecoveryPoint
from retention_pipeline.ports.store import StoredObject
from retention_pipeline.services.backup import BackupVerificationError
from retention_pipeline.services.restore import RecoveryPointCorruptError, RestoreService
from tests.backup.conftest import ENGINES, BackupHome, backed_up, make_documents, tree
from tests.support.crm import TABLES, connect, insert_company, table_rows

Databases = Callable[..., AbstractContextManager[str]]


def test_one_flipped_byte_fails_verify_and_restore(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp_id = home.back_up("acme-sas").id
        [rp] = home.complete("acme-sas")
        stored = home.folder_path(rp.key)
        data = bytearray(stored.read_bytes())
        data[len(data) // 2] ^= 0x01
        stored.write_bytes(bytes(data))

        for args in (("verify", rp_id), ("restore", rp_id, "--to", target)):
            run = home.cli(*args)
            assert run.rc != 0
            assert "altered or replaced" in run.err
            assert "Traceback" not in run.err + run.out
        with pytest.raises(RecoveryPointCorruptError):
            home.installation().restore_service().verify(rp_id)
        with home.installation().open_loader(target) as loader:
            assert loader.is_empty()  # nothing was restored


def replace_object(home: BackupHome, victim: RecoveryPoint, data: bytes) -> None:
    """Put ``data`` at ``victim``'s key and make the catalog's size and SHA-256 match it,
    as an attacker with write access to both would: only the manifest check is left."""
    home.folder_path(victim.key).write_bytes(data)
    home.catalog_sql(
        "UPDATE recovery_points SET size = ?, sha256 = ? WHERE id = ?",
        (len(data), hashlib.sha256(data).hexdigest(), victim.id),
    )


def reencrypt(home: BackupHome, rp: RecoveryPoint, recipient: str, folder: Path) -> bytes:
    """``rp``'s object decrypted with its client's identity and re-encrypted by ``age -r``."""
    identity = folder / "identity.key"
    identity.write_text(home.installation().keyring.identity_for(rp.client_id).to_string())
    plain = subprocess.run(
        ["age", "-d", "-i", str(identity)],
        input=home.stored_bytes(rp),
        capture_output=True,
        check=True,
    ).stdout
    return subprocess.run(
        ["age", "-r", recipient], input=plain, capture_output=True, check=True
    ).stdout


def test_another_clients_object_is_refused_even_when_its_hash_is_made_to_match(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        databases("sqlite", seed=1) as source_a,
        databases("sqlite", seed=2) as source_b,
        databases("sqlite", filled=False) as target,
    ):
        monkeypatch.setenv("BT_CRM_A_URL", source_a)
        monkeypatch.setenv("BT_CRM_B_URL", source_b)
        home.policy("client-a", connection="crm_a")
        home.policy("client-b", connection="crm_b")
        a_id, b_id = home.back_up("client-a").id, home.back_up("client-b").id
        [a] = home.complete("client-a")
        [b] = home.complete("client-b")

        # copied as is: encrypted to A's key, so B's key cannot even open it
        replace_object(home, b, home.stored_bytes(a))
        run = home.cli("restore", b_id, "--to", target)
        assert run.rc != 0
        assert f"recovery point {b_id} of client 'client-b' cannot be read" in run.err
        assert "not encrypted to these keys" in run.err and "swapped" in run.err
        assert "Traceback" not in run.err

        # re-encrypted to B's public recipient (which anyone can read in the catalog):
        # it decrypts, and the manifest inside names client A
        [b_key] = [k for k in home.installation().catalog.list_client_keys()
                   if k.client_id == "client-b"]  # fmt: skip
        replace_object(home, b, reencrypt(home, a, b_key.recipient, tmp_path))
        run = home.cli("restore", b_id, "--to", target)
        assert run.rc != 0
        assert f"names recovery point {a_id} of client client-a" in run.err
        assert "swapped or misfiled" in run.err
        assert "Traceback" not in run.err
        with pytest.raises(ManifestError):
            home.installation().restore_service().verify(b_id)
        with home.installation().open_loader(target) as loader:
            assert loader.is_empty()


@pytest.mark.parametrize("engine", ENGINES)
def test_occupied_target_is_refused_without_force_and_replaced_with_it(
    engine: str,
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = make_documents(tmp_path / "documents")
    restored = tmp_path / "restored"
    with databases(engine) as source, databases(engine, contacts=5, seed=99) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        rp_id = home.back_up("acme-sas").id
        with connect(target) as conn:
            conn.cursor().execute("CREATE TABLE stray (id integer)")
        occupied = {t: table_rows(target, t) for t in TABLES}

        run = home.cli("restore", rp_id, "--to", target, "--documents", str(restored))
        assert run.rc == 3
        assert "not empty" in run.err and "--force" in run.err
        assert {t: table_rows(target, t) for t in TABLES} == occupied
        assert not restored.exists()

        (restored / "contrats").mkdir(parents=True)
        (restored / "empty.txt").write_bytes(b"older content")
        args = ("restore", rp_id, "--to", target, "--documents", str(restored), "--force")
        run = home.cli(*args)
        assert run.rc == 0, run.err
        assert "verification: OK" in run.out
        for table in TABLES:
            assert table_rows(target, table) == table_rows(source, table), table
        assert insert_company(target, "after restore") == insert_company(source, "after")
        assert tree(restored) == tree(docs)


def test_documents_folder_is_checked_before_the_database_is_touched(
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = make_documents(tmp_path / "documents")
    restored = tmp_path / "restored"
    (restored / "contrats" / "2026").mkdir(parents=True)
    (restored / "contrats" / "2026" / "devis-0042.pdf").write_bytes(b"someone's file")
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        rp_id = home.back_up("acme-sas").id
        run = home.cli("restore", rp_id, "--to", target, "--documents", str(restored))
        assert run.rc == 3
        assert "would overwrite an existing file" in run.err
        # refused before anything was written: not even the target's file was left behind
        assert not Path(target.removeprefix("sqlite:///")).exists()
        assert (restored / "contrats" / "2026" / "devis-0042.pdf").read_bytes() == b"someone's file"


def test_client_without_backup_option_is_refused_and_gets_no_key(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", mode="off")
        run = home.cli("backup", "acme-sas")
    assert run.rc == 3
    assert "client 'acme-sas' has no active backup option (backup.mode is off)" in run.err
    assert "Traceback" not in run.err
    assert home.points("acme-sas") == []
    unknown = home.cli("backup", "acme-sa")  # a typo: no such client
    assert unknown.rc == 2
    assert "client 'acme-sa' is not in the catalog" in unknown.err
    assert "retention-pipeline clients" in unknown.err
    entries = list(home.installation().catalog.evidence_entries())
    refused = [e for e in entries if e.action == "backup.refused"]
    assert [e.subjects for e in refused] == [{"client": "acme-sas"}]  # a typo is not kept
    typed = home.cli("backup", "Zephyrine Canari", "--requested-by", "z.canari@example.test")
    assert typed.rc == 2 and "not a client id" in typed.err
    assert "Zephyrine" not in typed.err and "example.test" not in typed.err
    keys = home.cli("keys", "list", "--json")
    assert keys.rc == 0
    assert "acme-sas" not in keys.out
    assert home.installation().catalog.get_client_key("acme-sas") is None


def test_another_recovery_point_of_the_same_client_is_refused(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        service = home.installation().backup_service()
        older, newer = service.backup("acme-sas"), service.backup("acme-sas")
    [rp_old, rp_new] = home.complete("acme-sas")
    assert (rp_old.id, rp_new.id) == (older.recovery_point_id, newer.recovery_point_id)
    replace_object(home, rp_new, home.stored_bytes(rp_old))
    run = home.cli("verify", rp_new.id)
    assert run.rc != 0
    assert f"names recovery point {rp_old.id} of client acme-sas" in run.err


def test_a_read_back_that_disagrees_leaves_no_complete_row_and_no_object(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    class LosingStore(FolderStore):
        """A real folder store whose read-back reports other bytes than were sent."""

        def head(self, key: str, version_id: str | None = None) -> StoredObject:
            return replace(super().head(key, version_id), sha256="0" * 64)

    installation = home.installation()
    with databases("sqlite") as source:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        store = installation.store("folder")
        store.__class__ = LosingStore
        service = replace(installation.backup_service(), store=lambda name: store)
        with pytest.raises(BackupVerificationError, match="differ from the bytes uploaded"):
            service.backup("acme-sas")
    [rp] = home.points("acme-sas")
    assert rp.status == "failed"
    assert list(store.list_versions("acme-sas/")) == []
    actions = [e.action for e in home.installation().catalog.evidence_entries()]
    assert "backup.failed" in actions and "backup.completed" not in actions


def test_force_into_a_database_of_another_engine_leaves_it_untouched(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_documents(tmp_path / "documents")
    restored = tmp_path / "restored"
    with databases("sqlite") as source, databases("postgresql", contacts=5, seed=3) as other:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        rp_id = home.back_up("acme-sas").id
        before = {t: table_rows(other, t) for t in TABLES}

        args = ("restore", rp_id, "--to", other, "--force", "--documents", str(restored))
        run = home.cli(*args)
        assert run.rc == 3
        assert {t: table_rows(other, t) for t in TABLES} == before
        assert "holds a sqlite database and the target is postgresql" in run.err
        assert not restored.exists()  # refused before the documents folder was made


def test_the_target_is_checked_before_the_recovery_point_is_downloaded(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source, databases("sqlite") as occupied:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")
        # the object is gone: a restore that downloaded first would report that instead
        home.folder_path(rp.key).unlink()

        run = home.cli("restore", rp.id, "--to", occupied)
        assert run.rc == 3
        assert "not empty" in run.err

        notes = tmp_path / "notes.txt"
        notes.write_text("not a database, and not to be overwritten\n")
        for extra in ((), ("--force",)):
            run = home.cli("restore", rp.id, "--to", f"sqlite:///{notes}", *extra)
            assert run.rc == 1
            assert "checking the target failed" in run.err
            assert "Traceback" not in run.err
        assert notes.read_text() == "not a database, and not to be overwritten\n"


def test_a_document_failing_its_check_is_not_left_under_its_name(tmp_path: Path) -> None:
    """Verified chunks arrive before the document's checksum is known: they must wait
    under a temporary name, and vanish if the check fails."""
    good = DocumentEntry("contrats/ok.pdf", "documents/000000", 3, "")
    bad = DocumentEntry("contrats/devis.pdf", "documents/000001", 70000, "")

    class Reader:
        manifest = SimpleNamespace(documents=(good, bad))

        def document_data(self, doc: DocumentEntry) -> Iterator[bytes]:
            yield b"x" * min(doc.size, 65536)
            if doc is bad:
                raise ManifestError("document documents/000001: data do not match")

    folder = tmp_path / "restored"
    service = RestoreService.__new__(RestoreService)
    with pytest.raises(ManifestError):
        service._write_documents(Reader(), folder, False, None)  # type: ignore[arg-type]
    assert tree(folder) == {"contrats/ok.pdf": b"xxx"}


def test_an_unknown_recovery_point_id_is_invalid_input(home: BackupHome) -> None:
    home.policy("acme-sas")  # the catalog exists (without one, that is the error)
    for args in (("verify", "rp-nosuch"), ("restore", "rp-nosuch", "--to", "sqlite:///x.db")):
        run = home.cli(*args)
        assert run.rc == 2, run.err
        assert "recovery point 'rp-nosuch'" in run.err and "Traceback" not in run.err


def test_a_deleted_catalog_is_refused_not_silently_recreated(home: BackupHome) -> None:
    """A lost catalog forgets every backup and key: commands stop and say so."""
    home.policy("acme-sas")
    catalog = home.path / "catalog.db"
    for leftover in home.path.glob("catalog.db*"):
        leftover.unlink()
    for args in (("points",), ("keys", "list"), ("cleanup", "--grace", "0h"), ("verify", "rp-x")):
        run = home.cli(*args)
        assert run.rc == 2, run.err
        assert f"catalog sqlite:///{catalog}: does not exist" in run.err
        assert "restore it from its backup" in run.err and "Traceback" not in run.err
        assert not catalog.exists()
    run = home.cli("policy", "apply", "--dry-run")
    assert run.rc == 0 and "no catalog yet" in run.out and not catalog.exists()
    # the master key file shows the installation was used: no new, empty catalog by default
    run = home.cli("policy", "apply")
    assert run.rc == 3 and "this installation was used before" in run.err
    assert "master key file" in run.err and "--new-catalog" in run.err
    assert not catalog.exists()
    run = home.cli("config", "check")
    assert run.rc == 1 and "catalog: FAILED" in run.err
    run = home.cli("policy", "apply", "--new-catalog")
    assert run.rc == 0, run.err
    assert catalog.exists()


def test_a_file_that_is_not_a_catalog_is_named(home: BackupHome) -> None:
    home.policy("acme-sas")
    for leftover in home.path.glob("catalog.db*"):
        leftover.unlink()
    (home.path / "catalog.db").write_bytes(b"not a database " * 600)
    run = home.cli("points")
    assert run.rc == 2, run.err
    assert "cannot be read as a catalog (file is not a database)" in run.err
    assert "Traceback" not in run.err


def test_restore_refuses_a_documents_path_that_is_a_file_before_writing_anything(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_documents(tmp_path / "documents")
    not_a_folder = tmp_path / "a-file.txt"
    not_a_folder.write_text("an operator's file")
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        assert home.cli("backup", "acme-sas").rc == 0
        [rp] = home.complete("acme-sas")
        for documents in (not_a_folder, not_a_folder / "inside"):
            run = home.cli("restore", rp.id, "--to", target, "--documents", str(documents))
            assert run.rc == 2, run.err
            assert f"{not_a_folder} is a file, not a folder" in run.err
            assert "Traceback" not in run.err
        run = home.cli("restore", rp.id, "--to", target, "--documents", "/proc/self/no-such")
        assert run.rc == 2 and "cannot create the folder" in run.err
        assert sa.inspect(sa.create_engine(target)).get_table_names() == []  # untouched
        assert not_a_folder.read_text() == "an operator's file"


def test_restore_refuses_the_installation_catalog_as_its_target(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    catalog = home.path / "catalog.db"
    before = len(home.installation().catalog.list_recovery_points())
    for target in (f"sqlite:///{catalog}", f"sqlite:///{catalog.parent}/./catalog.db"):
        run = home.cli("restore", rp.id, "--to", target, "--force")
        assert run.rc == 2, run.err
        assert "--to names this installation's catalog database" in run.err
    assert len(home.installation().catalog.list_recovery_points()) == before
    # a spelling no URL comparison knows (another host name, a link, another installation's
    # catalog): the target itself says it holds a catalog
    other = home.path.parent / "other-catalog.db"
    with closing(sqlite3.connect(catalog)) as live, closing(sqlite3.connect(other)) as copy:
        live.backup(copy)
    run = home.cli("restore", rp.id, "--to", f"sqlite:///{other}", "--force")
    assert run.rc == 2, run.err
    assert "the target database holds a retention-pipeline catalog" in run.err
    with closing(sqlite3.connect(other)) as copy:
        assert copy.execute("SELECT count(*) FROM recovery_points").fetchone() == (1,)


def test_a_document_with_a_name_of_the_longest_length_is_restored(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 255-byte name is legal: the restore's temporary name must not be longer."""
    docs = tmp_path / "documents"
    docs.mkdir()
    longest = "Zephyrine-" + "n" * 241 + ".pdf"
    assert len(longest.encode()) == 255
    (docs / longest).write_bytes(b"%PDF long name")
    restored = tmp_path / "restored"
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        rp_id = home.back_up("acme-sas").id
        run = home.cli("restore", rp_id, "--to", target, "--documents", str(restored))
    assert run.rc == 0, run.err
    assert tree(restored) == tree(docs)


def test_a_link_in_the_documents_folder_is_replaced_never_written_through(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_documents(tmp_path / "documents")
    restored, keep = tmp_path / "restored", tmp_path / "someone-else.txt"
    keep.write_bytes(b"not to be overwritten")
    restored.mkdir()
    (restored / "scan.bin").symlink_to(keep)  # stands where a document goes
    (restored / "empty.txt").symlink_to(tmp_path / "nowhere")  # dangling
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        rp_id = home.back_up("acme-sas").id
        args = ("restore", rp_id, "--to", target, "--documents", str(restored))
        refused = home.cli(*args)
        assert refused.rc == 3 and "would overwrite an existing file" in refused.err
        run = home.cli(*args, "--force")
    assert run.rc == 0, run.err
    assert keep.read_bytes() == b"not to be overwritten"
    assert not (restored / "scan.bin").is_symlink() and not (restored / "empty.txt").is_symlink()
    assert tree(restored) == tree(docs)
