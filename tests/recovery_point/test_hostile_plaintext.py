"""What the reader holds in memory is bounded by its limits, not by what a forger claims."""

from __future__ import annotations

import io
import tarfile
import tempfile

import pytest
import zstandard

from retention_pipeline.envelope import recovery_point, tarstream
from retention_pipeline.envelope.manifest import MANIFEST_MEMBER, ManifestError
from retention_pipeline.envelope.recovery_point import RecoveryPointReader, pack
from retention_pipeline.envelope.spool import SealedSpool
from tests.recovery_point.test_packing import base_manifest


def header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.USTAR_FORMAT)


def zeros_bomb(first: bytes) -> bytes:
    """``first`` then 64 MiB of zeros, a few KiB once compressed: what tarfile would buffer."""
    compressor = zstandard.ZstdCompressor()
    out = io.BytesIO()
    with compressor.stream_writer(out, closefd=False) as writer:
        writer.write(first)
        for _ in range(64):
            writer.write(bytes(1 << 20))
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "refusal"),
    [
        (tarfile.XHDTYPE, "tar extended header of"),
        (tarfile.XGLTYPE, "tar header of a kind never written"),
        (tarfile.GNUTYPE_LONGNAME, "tar header of a kind never written"),
    ],
)
def test_a_huge_or_foreign_tar_header_is_refused_from_its_header(kind: bytes, refusal: str) -> None:
    bomb = zeros_bomb(header("././@PaxHeader", kind, 60 << 20))
    with pytest.raises(ManifestError, match=refusal):
        RecoveryPointReader([bomb])


def test_a_manifest_member_larger_than_the_limit_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recovery_point, "MAX_WHOLE_MEMBER", 1 << 20)
    bomb = zeros_bomb(tarstream.member_header(MANIFEST_MEMBER, 60 << 20))
    with pytest.raises(ManifestError, match=f"declares {60 << 20} bytes"):
        RecoveryPointReader([bomb])


def test_the_writer_refuses_what_the_reader_would_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery_point, "MAX_WHOLE_MEMBER", 1000)
    with (
        tempfile.TemporaryFile() as scratch,
        pytest.raises(ManifestError, match=r"schema\.json would be 1001 bytes"),
    ):
        pack(base_manifest(), b"x" * 1001, [], [], SealedSpool(scratch))
