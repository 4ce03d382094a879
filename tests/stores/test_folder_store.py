"""Folder store specifics the contract cannot express: its files on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.ports.store import InvalidKeyError, StoreError


@pytest.fixture
def store(tmp_path: Path) -> FolderStore:
    return FolderStore("local", tmp_path / "store", "eu-west-3")


def test_a_symlink_cannot_lead_a_key_out_of_the_store(store: FolderStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir()
    (store.root / "client-a").symlink_to(outside)

    with pytest.raises(InvalidKeyError, match="outside store 'local'"):
        store.put("client-a/rp", [b"x"])
    with pytest.raises(InvalidKeyError):
        store.head("client-a/rp")
    assert list(outside.iterdir()) == []


def test_metadata_and_uploads_are_never_listed_or_addressable(store: FolderStore) -> None:
    store.put("client-a/rp", [b"x"])
    assert (store.root / ".meta" / "client-a" / "rp.json").is_file()
    assert [v.key for v in store.list_versions()] == ["client-a/rp"]
    for reserved in (".meta/client-a/rp.json", ".uploads/x"):
        with pytest.raises(InvalidKeyError, match="reserved"):
            store.head(reserved)


def test_a_stale_sidecar_is_detected_and_the_file_rehashed(store: FolderStore) -> None:
    store.put("client-a/rp", [b"first"])
    sidecar = (store.root / ".meta" / "client-a" / "rp.json").read_bytes()
    store.put("client-a/rp", [b"other"])
    # A crash between the data rename and the sidecar rename leaves the old sidecar.
    (store.root / ".meta" / "client-a" / "rp.json").write_bytes(sidecar)

    assert store.head("client-a/rp").sha256 == hashlib.sha256(b"other").hexdigest()


def test_deleting_the_last_object_removes_its_folders(store: FolderStore) -> None:
    store.put("client-a/2026/rp", [b"x"])
    store.delete_version("client-a/2026/rp", "null")
    assert sorted(p.name for p in store.root.iterdir()) == [".meta", ".uploads"]
    assert list((store.root / ".meta").iterdir()) == []


def test_a_write_that_fails_is_a_store_error_that_names_no_folder(tmp_path: Path) -> None:
    """Certificate destinations are folder stores whose path often names the client:
    a failed write must not print it (nor end in a traceback)."""
    blocker = tmp_path / "Zephyrine-Canari"
    blocker.write_text("a file where the folder should be")
    store = FolderStore("certificates", blocker / "certs", None)
    with pytest.raises(StoreError, match=r"writing cert-1\.pdf failed") as failed:
        store.put("cert-1.pdf", [b"%PDF"])
    assert "Zephyrine" not in str(failed.value)
