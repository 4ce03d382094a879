"""Recovery point plaintext (zstd, tar, manifest): ``ManifestError`` and nothing else.

A mutation the reader accepts must leave every byte it hands out as it was: tar header
fields nobody reads (an mtime, padding) may change unnoticed, data may not. zstd frames
carry no checksum, so a manifest field the checksums do not cover (its ``created_at``)
can change too: such a manifest then hashes differently, and restore refuses it against
the catalog's ``manifest_sha256`` (tests/backup/test_corrupt_points.py).
"""

from __future__ import annotations

import io
import json
import tempfile

import zstandard
from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.envelope.manifest import Manifest, ManifestError
from retention_pipeline.envelope.recovery_point import (
    DocumentSource,
    RecoveryPointReader,
    TableSource,
    pack,
)
from retention_pipeline.envelope.spool import SealedSpool
from tests.fuzz.support import FUZZ, json_values, mutated
from tests.recovery_point.test_packing import base_manifest


def _build() -> tuple[Manifest, bytes]:
    doc = b"%PDF a document\n" * 20
    with tempfile.TemporaryFile() as scratch:
        manifest, stream = pack(
            base_manifest(),
            b'{"tables": []}',
            [TableSource("contacts", "lines", [b"1\tone\n", b"2\ttwo\n" * 30])],
            [DocumentSource("a.pdf", lambda: io.BytesIO(doc), len(doc))],
            SealedSpool(scratch),
            chunk_size=256,
        )
        return manifest, b"".join(stream)


MANIFEST, COMPRESSED = _build()
TAR = (
    zstandard.ZstdDecompressor()
    .stream_reader(io.BytesIO(COMPRESSED), read_across_frames=True)
    .read()
)


def read_all(compressed: bytes) -> tuple[str, Manifest, bytes | None, list[bytes]]:
    """What a verify reads: the manifest's hash, the manifest, schema, tables, documents."""
    reader = RecoveryPointReader([compressed])
    parts = [b"".join(reader.table_data(t)) for t in reader.manifest.tables]
    parts += [b"".join(reader.document_data(d)) for d in reader.manifest.documents]
    reader.finish()
    return reader.manifest_sha256, reader.manifest, reader.schema_json, parts


EXPECTED = read_all(COMPRESSED)


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


@FUZZ
@given(st.one_of(st.binary(max_size=2048), st.binary(max_size=2048).map(zstd)))
def test_random_bytes_and_random_zstd_are_a_manifest_error(data: bytes) -> None:
    try:
        read_all(data)
    except ManifestError:
        return
    raise AssertionError("random input read as a recovery point")


@FUZZ
@given(st.one_of(mutated(COMPRESSED), mutated(TAR).map(zstd)))
def test_a_mutated_plaintext_is_refused_or_reads_the_same_data(data: bytes) -> None:
    try:
        manifest_sha256, manifest, schema, parts = read_all(data)
    except ManifestError:
        return
    assert (schema, parts) == EXPECTED[2:]
    # the same manifest, or one whose hash the catalog's check refuses
    assert manifest == EXPECTED[1] or manifest_sha256 != EXPECTED[0]


@FUZZ
@given(mutated(MANIFEST.to_bytes()))
def test_a_mutated_manifest_is_refused_or_parses_to_checked_types(raw: bytes) -> None:
    try:
        manifest = Manifest.from_bytes(raw)
    except ManifestError:
        return
    # what restore and verify compute from a manifest must not raise
    assert manifest.total_rows >= 0
    assert all(isinstance(name, str) for t in manifest.tables for name in t.members)
    assert sum(d.size for d in manifest.documents) >= 0


@FUZZ
@given(json_values, st.sampled_from(["", "tables", "documents", "objects", "extra", "client"]))
def test_any_json_in_any_manifest_field_is_refused_or_well_typed(value: object, field: str) -> None:
    data = json.loads(MANIFEST.to_bytes())
    if field:
        data[field] = value
    else:
        data = value
    try:
        manifest = Manifest.from_bytes(json.dumps(data).encode())
    except ManifestError:
        return
    assert manifest.total_rows >= 0 and isinstance(manifest.client, str)
