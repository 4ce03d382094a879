"""Encrypting and decrypting a large stream keeps memory bounded (a backup can be many GB).

Runs in a fresh interpreter so that the peak RSS measured is this pipeline's alone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

STREAM_MIB = 200
MAX_GROWTH_MIB = 32

_SCRIPT = textwrap.dedent(
    f"""
    import hashlib, resource
    from retention_pipeline.envelope.age import decrypt_stream, encrypt_stream, Identity

    identity = Identity(bytes([7]) * 32)
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)  # 1 MiB

    def source():
        for index in range({STREAM_MIB}):
            yield block[index % 97:] + block[:index % 97]

    expected = hashlib.sha256()
    for piece in source():
        expected.update(piece)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seen = hashlib.sha256()
    total = 0
    ciphertext = encrypt_stream([identity.recipient], source())
    for piece in decrypt_stream([identity], ciphertext):
        seen.update(piece)
        total += len(piece)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert total == {STREAM_MIB} * 1024 * 1024, total
    assert seen.digest() == expected.digest()
    print((peak - baseline) // 1024)
    """
)


@pytest.mark.slow
def test_streaming_200_mib_grows_rss_by_less_than_32_mib() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    growth_mib = int(done.stdout.strip())
    assert growth_mib < MAX_GROWTH_MIB, f"peak RSS grew by {growth_mib} MiB"
