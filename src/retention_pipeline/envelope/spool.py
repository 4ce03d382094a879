"""A scratch file that never holds client data in the clear.

A recovery point is written in two passes (see ``tarstream``), so the compressed data
members wait in a scratch file while the manifest is completed. That file is on the
worker's disk, which hoster staff can read, so it is sealed: every byte is encrypted
with ChaCha20 under a random key that lives only in this object's memory. When the
process dies the key dies with it; the file itself is created unlinked
(``tempfile.TemporaryFile``), so nothing is left to find either way.

No authentication is needed: the spool is written and read back by the same process
within one backup, and the final object is authenticated by the age format.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

READ_SIZE = 1024 * 1024


class SealedSpool:
    """Write-then-read scratch storage, encrypted with an ephemeral key.

    Use: ``write`` any number of times, then ``read_back`` once. Bytes come back exactly
    as written.
    """

    def __init__(self, file: BinaryIO, *, key: bytes | None = None) -> None:
        self._file = file
        self._key = key or os.urandom(32)
        self._nonce = os.urandom(16)
        self._encryptor = Cipher(algorithms.ChaCha20(self._key, self._nonce), None).encryptor()
        self.size = 0
        self._sealed = False

    def write(self, data: bytes) -> int:
        """Encrypt and append ``data``; returns its length like a file's ``write``."""
        if self._sealed:
            raise ValueError("spool already read back; start a new one")
        if data:
            self._file.write(self._encryptor.update(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Flush the underlying file (so ``write``-then-``read_back`` sees every byte)."""
        self._file.flush()

    def read_back(self) -> Iterator[bytes]:
        """Decrypt the whole spool from the start, in chunks of at most 1 MiB."""
        self._sealed = True
        self._file.flush()
        self._file.seek(0)
        decryptor = Cipher(algorithms.ChaCha20(self._key, self._nonce), None).decryptor()
        while True:
            block = self._file.read(READ_SIZE)
            if not block:
                break
            yield decryptor.update(block)
