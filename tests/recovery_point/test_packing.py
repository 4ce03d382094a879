"""The plaintext layout of a recovery point: manifest first, checksums enforced."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
from pathlib import Path

import pytest
import zstandard

from retention_pipeline.envelope.manifest import Manifest, ManifestError
from retention_pipeline.envelope.recovery_point import (
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
    raw = base_manifest().to_bytes().replace(b'"format_version":1', b'"format_version":9')
    with pytest.raises(ManifestError, match="version 9 is not supported"):
        Manifest.from_bytes(raw)
    with pytest.raises(ManifestError, match="malformed"):
        Manifest.from_bytes(b"{not json")
