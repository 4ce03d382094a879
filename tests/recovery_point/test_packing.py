"""The plaintext layout of a recovery point: manifest first, checksums enforced."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import zstandard

from retention_pipeline.envelope.manifest import Manifest, ManifestError
from retention_pipeline.envelope.recovery_point import (
    DocumentChangedError,
    DocumentSource,
    DocumentsUnreadableError,
    RecoveryPointReader,
    TableSource,
    documents_in,
    pack,
)
from retention_pipeline.envelope.spool import SealedSpool


def base_manifest(client: str = "acme-sas", rp: str = "rp-1") -> Manifest:
    return Manifest(
        client=client,
        recovery_point=rp,
        created_at="2026-11-26T02:00:00+00:00",
        engine="sqlite",
        server_version="3",
        tool_version="test",
        schema_sha256=None,
    )


def unzstd(blob: bytes) -> bytes:
    """Decompress every concatenated frame, as the zstd CLI does."""
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
    return reader.read()


def rows(n: int, width: int = 50) -> list[bytes]:
    return [f"{i}\t{'x' * width}\n".encode() for i in range(n)]


def build(
    tmp_path: Path, table_rows: list[bytes], chunk_size: int = 1024
) -> tuple[Manifest, bytes]:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True, exist_ok=True)
    (docs / "a.txt").write_bytes(b"hello")
    (docs / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    with tempfile.TemporaryFile() as scratch:
        manifest, stream = pack(
            base_manifest(),
            b'{"tables": []}',
            [
                TableSource("contacts", "test-lines", iter(table_rows)),
                TableSource("empty", "t", []),
            ],
            documents_in(docs),
            SealedSpool(scratch),
            chunk_size=chunk_size,
        )
        return manifest, b"".join(stream)


def test_round_trip_streams_every_table_and_document(tmp_path: Path) -> None:
    data = rows(500)
    manifest, blob = build(tmp_path, data)
    assert manifest.tables[0].rows == 500
    assert manifest.tables[0].sha256 == hashlib.sha256(b"".join(data)).hexdigest()
    assert len(manifest.tables[0].members) > 1  # cut into several members
    assert manifest.tables[1].rows == 0 and len(manifest.tables[1].members) == 1

    reader = RecoveryPointReader([blob[i : i + 777] for i in range(0, len(blob), 777)])
    assert reader.manifest == manifest
    assert reader.schema_json == b'{"tables": []}'
    assert b"".join(reader.table_data(reader.manifest.tables[0])) == b"".join(data)
    assert b"".join(reader.table_data(reader.manifest.tables[1])) == b""
    got = {d.path: b"".join(reader.document_data(d)) for d in reader.manifest.documents}
    assert got == {"a.txt": b"hello", "sub/b.bin": bytes(range(256)) * 100}
    reader.finish()


def test_plaintext_is_an_ordinary_tar_with_the_manifest_first(tmp_path: Path) -> None:
    _, blob = build(tmp_path, rows(10))
    tar_bytes = (
        zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True).read()
    )
    listing = (
        subprocess.run(["tar", "-t"], input=tar_bytes, capture_output=True, check=True)
        .stdout.decode()
        .split()
    )
    assert listing[0] == "manifest.json"
    assert listing[1] == "schema.json"
    assert "documents/000001" in listing


def test_the_scratch_file_never_holds_plaintext(tmp_path: Path) -> None:
    marker = b"canary-contact@example.org"
    with tempfile.TemporaryFile() as scratch:
        _, stream = pack(
            base_manifest(),
            None,
            [TableSource("t", "f", [marker * 1000])],
            [],
            SealedSpool(scratch),
            level=1,
        )
        scratch.seek(0)
        on_disk = scratch.read()
        assert marker not in on_disk
        with pytest.raises(zstandard.ZstdError):  # not even a readable zstd frame
            zstandard.ZstdDecompressor().decompressobj().decompress(on_disk)
        b"".join(stream)


def test_a_changed_table_byte_is_detected_before_the_table_ends(tmp_path: Path) -> None:
    data = rows(50)
    _, blob = build(tmp_path, data)
    tar_bytes = bytearray(unzstd(blob))
    at = tar_bytes.index(b"xxxxxxxxxx")
    tar_bytes[at] = ord("y")
    tampered = zstandard.ZstdCompressor().compress(bytes(tar_bytes))
    reader = RecoveryPointReader([tampered])
    with pytest.raises(ManifestError, match="table contacts: data do not match"):
        b"".join(reader.table_data(reader.manifest.tables[0]))


def test_manifest_names_client_and_recovery_point() -> None:
    manifest = base_manifest()
    manifest.check_identity("acme-sas", "rp-1")
    with pytest.raises(ManifestError, match="swapped or misfiled"):
        manifest.check_identity("other-client", "rp-1")
    with pytest.raises(ManifestError, match="swapped or misfiled"):
        manifest.check_identity("acme-sas", "rp-2")


def test_manifest_of_unknown_version_is_refused() -> None:
    raw = base_manifest().to_bytes().replace(b'"format_version":2', b'"format_version":9')
    with pytest.raises(ManifestError, match="version 9 is not supported"):
        Manifest.from_bytes(raw)
    with pytest.raises(ManifestError, match="malformed"):
        Manifest.from_bytes(b"{not json")


def yield_listed(listed: list[DocumentSource]) -> None:
    with tempfile.TemporaryFile() as scratch:
        _, stream = pack(base_manifest(), None, [], listed, SealedSpool(scratch))
        b"".join(stream)


def test_documents_are_listed_in_path_order_without_links_or_pipes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "a").mkdir(parents=True)
    (docs / "a" / "b.txt").write_bytes(b"1")
    (docs / "a-c.txt").write_bytes(b"2")
    (docs / "link.txt").symlink_to(docs / "a-c.txt")
    os.mkfifo(docs / "pipe")
    assert [doc.path for doc in documents_in(docs)] == ["a/b.txt", "a-c.txt"]


def test_a_folder_that_cannot_be_listed_fails_the_backup_without_its_path(
    tmp_path: Path,
) -> None:
    """A folder the walk cannot enter (here: a path beyond the system's limit, which
    even root cannot list) must fail the listing, never be left out in silence."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kept.txt").write_bytes(b"kept")
    deep = os.open(docs, os.O_RDONLY)
    try:
        for _ in range(25):  # 25 levels of 180 bytes: more than PATH_MAX
            os.mkdir("Zephyrine-" + "d" * 170, dir_fd=deep)
            inner = os.open("Zephyrine-" + "d" * 170, os.O_RDONLY, dir_fd=deep)
            os.close(deep)
            deep = inner
        last = os.open("last.txt", os.O_WRONLY | os.O_CREAT, dir_fd=deep)
        os.write(last, b"deep")
        os.close(last)
    finally:
        os.close(deep)
    with pytest.raises(DocumentsUnreadableError, match="could not be read in full") as refused:
        documents_in(docs)
    assert "Zephyrine" not in str(refused.value)


def test_a_document_written_to_while_it_is_read_fails_the_backup(tmp_path: Path) -> None:
    """A write that keeps the size would give a file that never existed (its start
    from before the write, its end from after); the modification time tells."""
    docs = tmp_path / "docs"
    docs.mkdir()
    target = docs / "contract.pdf"
    target.write_bytes(b"A" * (3 * 1024 * 1024))
    [listed] = documents_in(docs)

    def open_then_write() -> Any:
        handle = listed.open()
        real_read = handle.read
        state = {"reads": 0}

        def read(size: int = -1) -> bytes:
            state["reads"] += 1
            if state["reads"] == 2:  # another program rewrites the file mid-read
                with target.open("r+b") as other:
                    other.write(b"B" * (3 * 1024 * 1024))
                later = target.stat().st_mtime_ns + 1_000_000_000
                os.utime(target, ns=(later, later))
            return real_read(size)

        return _ReadHook(handle, read)

    changed = DocumentSource(listed.path, open_then_write, listed.size)
    with pytest.raises(DocumentChangedError, match="was replaced or written to while"):
        yield_listed([changed])


class _ReadHook(io.RawIOBase):
    """A file object whose ``read`` is replaced, and whose descriptor is the file's."""

    def __init__(self, handle: Any, read: Any) -> None:
        self._handle = handle
        self.read = read  # type: ignore[method-assign]

    def fileno(self) -> int:
        return int(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
        super().close()


@pytest.mark.parametrize("swap", ["symlink", "fifo"])
def test_a_document_swapped_after_listing_is_never_read_through(tmp_path: Path, swap: str) -> None:
    """Between listing and reading, a link to another client's file of the same size or
    a pipe (which would block the read for ever) may take the document's place."""
    docs, elsewhere = tmp_path / "docs", tmp_path / "other-client.txt"
    docs.mkdir()
    (docs / "note.txt").write_bytes(b"ours")
    elsewhere.write_bytes(b"THEM")  # the same size: only the swap can tell
    listed = documents_in(docs)
    (docs / "note.txt").unlink()
    if swap == "symlink":
        (docs / "note.txt").symlink_to(elsewhere)
    else:
        os.mkfifo(docs / "note.txt")
    with pytest.raises(DocumentChangedError, match="document documents/000000"):
        yield_listed(listed)
