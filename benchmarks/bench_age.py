"""Throughput of our age encoder/decoder against the ``age`` CLI, as a markdown table.

Run: ``.venv/bin/python benchmarks/bench_age.py [MiB]`` (default 256). Not part of the tests:
speed is measured here, never asserted. Both sides read and write files in a temporary folder
so that the comparison includes the same I/O.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from retention_pipeline.envelope.age import Identity, decrypt_stream, encrypt_stream

READ_SIZE = 1024 * 1024


def _write_plaintext(path: Path, mebibytes: int) -> None:
    """Incompressible-looking data, like a zstd-compressed tar."""
    block = b"".join(hashlib.sha256(bytes([i, j])).digest() for i in range(128) for j in range(256))
    with path.open("wb") as out:
        for index in range(mebibytes):
            out.write(block[index % 64 :] + block[: index % 64])


def _timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _ours_encrypt(identity: Identity, source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        for piece in encrypt_stream([identity.recipient], reader):
            writer.write(piece)


def _ours_decrypt(identity: Identity, source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        for piece in decrypt_stream([identity], reader):
            writer.write(piece)


def main(mebibytes: int) -> None:
    age = shutil.which("age")
    identity = Identity(bytes([5]) * 32)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        plain, sealed, opened = folder / "plain", folder / "sealed.age", folder / "opened"
        key = folder / "key.txt"
        key.write_text(identity.to_string() + "\n")
        _write_plaintext(plain, mebibytes)
        rows = [
            ("retention_pipeline encrypt", _timed(lambda: _ours_encrypt(identity, plain, sealed))),
            ("retention_pipeline decrypt", _timed(lambda: _ours_decrypt(identity, sealed, opened))),
        ]
        assert opened.read_bytes() == plain.read_bytes()
        if age:
            recipient = identity.recipient.to_string()
            encrypt_cli = [age, "-r", recipient, "-o", str(sealed), str(plain)]
            decrypt_cli = [age, "-d", "-i", str(key), "-o", str(opened), str(sealed)]
            rows.append(("age CLI encrypt", _timed(lambda: _run(encrypt_cli))))
            rows.append(("age CLI decrypt", _timed(lambda: _run(decrypt_cli))))
    print(f"| operation ({mebibytes} MiB) | seconds | MB/s |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {mebibytes * 1.048576 / seconds:.0f} |")
    if not age:
        print("\n(age CLI not installed: apt-get install age)")


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 256)
