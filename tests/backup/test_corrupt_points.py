"""A recovery point that decrypts but is not what the backup wrote is reported corrupt.

Anyone can encrypt to a client's recipient (it is public, in the catalog), so an attacker
with write access to the bucket and the catalog can store any plaintext that decrypts,
and make the catalog's size and SHA-256 match it. ``verify`` and ``restore`` must then
report the one corruption error, never a traceback of zstd, tarfile or json, and must
never declare a forged but self-consistent recovery point sound.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import zstandard

from retention_pipeline.envelope import tarstream
from retention_pipeline.envelope.age import Recipient, decrypt_stream, encrypt_stream
from retention_pipeline.envelope.manifest import MANIFEST_MEMBER, Manifest
from retention_pipeline.envelope.recovery_point import RecoveryPointReader, TableSource, pack
from retention_pipeline.envelope.spool import SealedSpool
from retention_pipeline.ports.catalog import RecoveryPoint
from retention_pipeline.services.restore import RecoveryPointCorruptError
from tests.backup.conftest import BackupHome, backed_up

Databases = Callable[..., AbstractContextManager[str]]


def plaintext(home: BackupHome, rp: RecoveryPoint) -> bytes:
    """The decrypted (still compressed) plaintext of ``rp``."""
    identity = home.installation().keyring.identity_for(rp.client_id)
    return b"".join(decrypt_stream([identity], home.stored_bytes(rp)))


def store_forged(home: BackupHome, rp: RecoveryPoint, compressed: bytes) -> None:
    """Encrypt ``compressed`` to the client's recipient, store it at ``rp``'s key, and make
    the catalog agree: size and SHA-256 of the object, and (when the forged plaintext has
    a readable manifest member) the manifest's SHA-256 too, so only decoding is left."""
    [key] = [
        k for k in home.installation().catalog.list_client_keys() if k.client_id == rp.client_id
    ]
    data = b"".join(encrypt_stream([Recipient.from_string(key.recipient)], compressed))
    home.folder_path(rp.key).write_bytes(data)
    home.catalog_sql(
        "UPDATE recovery_points SET size = ?, sha256 = ? WHERE id = ?",
        (len(data), hashlib.sha256(data).hexdigest(), rp.id),
    )
    manifest = _manifest_member(compressed)
    if manifest is not None:
        home.catalog_sql(
            "UPDATE recovery_points SET manifest_sha256 = ? WHERE id = ?",
            (hashlib.sha256(manifest).hexdigest(), rp.id),
        )


def _manifest_member(compressed: bytes) -> bytes | None:
    """The first member's bytes when it is a manifest of sane size, read beside our reader."""
    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(compressed), read_across_frames=True
    )
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST_MEMBER or first.size > 1 << 20:
                return None
            handle = tar.extractfile(first)
            return None if handle is None else handle.read()
    except (zstandard.ZstdError, tarfile.TarError):
        return None


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def manifest_tar(manifest_json: bytes) -> bytes:
    return tarstream.member(MANIFEST_MEMBER, manifest_json) + tarstream.END_OF_ARCHIVE


def real_manifest(home: BackupHome, rp: RecoveryPoint) -> dict[str, object]:
    reader = RecoveryPointReader([plaintext(home, rp)])
    return json.loads(Manifest.to_bytes(reader.manifest))  # type: ignore[no-any-return]


def assert_reported_corrupt(home: BackupHome, rp: RecoveryPoint, *expected: str) -> None:
    run = home.cli("verify", rp.id)
    assert run.rc == 1, run.out + run.err
    assert f"recovery point {rp.id} of client {rp.client_id!r} cannot be read" in run.err
    for text in expected:
        assert text in run.err
    assert "Traceback" not in run.err + run.out
    with pytest.raises(RecoveryPointCorruptError):
        home.installation().restore_service().verify(rp.id)


def test_garbage_that_is_not_zstd_is_corrupt(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    store_forged(home, rp, b"not a zstd frame " * 100)
    assert_reported_corrupt(home, rp, "cannot be decoded (zstd:")


def test_a_truncated_zstd_stream_is_corrupt(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    real = plaintext(home, rp)
    # zstd yields nothing of a frame cut short, and tarfile takes the end of the stream
    # for the end of the archive: the missing end-of-archive block is what shows it
    store_forged(home, rp, real[: len(real) - 7])
    assert_reported_corrupt(home, rp, "ends without its end-of-archive blocks")


def test_valid_zstd_of_garbage_tar_is_corrupt(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    store_forged(home, rp, zstd(b"\x17garbage, not a tar header" * 200))
    assert_reported_corrupt(home, rp, "cannot be decoded (tar:")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("rows", "many", "tables[0].rows is not a non-negative integer"),
        ("size", -1, "tables[0].size is not a non-negative integer"),
        ("members", 7, "tables[0].members is not a list"),
        ("name", None, "tables[0].name is not a string"),
    ],
)
def test_a_manifest_of_wrong_types_is_corrupt(
    field: str,
    value: object,
    named: str,
    home: BackupHome,
    databases: Databases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    manifest = real_manifest(home, rp)
    manifest["tables"][0][field] = value  # type: ignore[index]
    store_forged(home, rp, zstd(manifest_tar(json.dumps(manifest).encode())))
    assert_reported_corrupt(home, rp, f"malformed manifest (field {named})")


def test_a_deeply_nested_manifest_is_corrupt(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    manifest = real_manifest(home, rp)
    nested = json.dumps(manifest).encode()[:-1] + b',"extra":' + b"[" * 200_000 + b"]" * 200_000
    store_forged(home, rp, zstd(manifest_tar(nested + b"}")))
    assert_reported_corrupt(home, rp, "JSON nested too deep")


def test_a_manifest_member_of_forged_size_is_refused_before_it_is_read(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header declaring 64 GiB of manifest: refused from the header, nothing buffered."""
    rp = backed_up(home, databases, monkeypatch)
    header = tarstream.member_header(MANIFEST_MEMBER, 64 << 30)
    store_forged(home, rp, zstd(header + b"{" * 4096))
    assert_reported_corrupt(home, rp, f"member {MANIFEST_MEMBER} declares {64 << 30} bytes")


def test_a_swapped_self_consistent_recovery_point_is_not_declared_sound(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same client, same id, every checksum consistent, but one table's rows dropped:
    only the catalog's manifest checksum shows it is not what the backup wrote."""
    rp = backed_up(home, databases, monkeypatch)
    reader = RecoveryPointReader([plaintext(home, rp)])
    tables = []
    for number, table in enumerate(reader.manifest.tables):
        data = b"".join(reader.table_data(table))
        tables.append(TableSource(table.name, table.data_format, [b""] if number == 0 else [data]))
    reader.finish()
    assert reader.manifest.tables[0].rows > 0
    with tempfile.TemporaryFile() as scratch:
        forged, stream = pack(reader.manifest, reader.schema_json, tables, [], SealedSpool(scratch))
        compressed = b"".join(stream)
    assert forged.tables[0].rows == 0
    recorded = home.catalog_sql(
        "SELECT manifest_sha256 FROM recovery_points WHERE id = ?", (rp.id,)
    )
    store_forged(home, rp, compressed)
    # the attacker fixed size and SHA-256; the manifest checksum is the backup's own
    home.catalog_sql(
        "UPDATE recovery_points SET manifest_sha256 = ? WHERE id = ?", (recorded[0][0], rp.id)
    )
    assert_reported_corrupt(home, rp, "its manifest differs from the one the backup recorded")

    # a row whose manifest checksum was cleared proves nothing either
    home.catalog_sql("UPDATE recovery_points SET manifest_sha256 = NULL WHERE id = ?", (rp.id,))
    assert_reported_corrupt(home, rp, "its manifest differs from the one the backup recorded")


def test_a_sound_recovery_point_still_verifies(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp = backed_up(home, databases, monkeypatch)
    # re-encrypted to the same key, plaintext untouched: the manifest checksum still matches
    store_forged(home, rp, plaintext(home, rp))
    run = home.cli("verify", rp.id)
    assert run.rc == 0, run.err
