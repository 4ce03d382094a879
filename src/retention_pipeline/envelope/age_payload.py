"""The age v1 payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks (docs/format.md, 3.3).

Rules this module enforces:
- chunk i is sealed under nonce ``i (11 bytes, big endian) || last flag``; the flag is 1 only
  on the final chunk, so a stream cut at a chunk boundary does not authenticate;
- the final chunk is empty only when the whole plaintext is empty;
- the sealer keeps back one full chunk until it knows whether more data follows, because
  only then does it know that chunk's last flag; memory stays at about two chunks;
- the opener releases a chunk's plaintext only after its tag verified, and refuses any chunk
  after the final one.

Sans-IO: both classes take and return bytes; the caller does the reading and writing.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from retention_pipeline.envelope.age_format import (
    CHUNK_SIZE,
    FILE_KEY_SIZE,
    PAYLOAD_NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    IntegrityError,
    hkdf_sha256,
)

_COUNTER_BYTES = 11
_MAX_COUNTER = (1 << (8 * _COUNTER_BYTES)) - 1


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """HKDF-SHA-256(ikm = file key, salt = payload nonce, info = "payload")."""
    if len(file_key) != FILE_KEY_SIZE or len(nonce) != PAYLOAD_NONCE_SIZE:
        raise ValueError("file key and payload nonce must both be 16 bytes")
    return hkdf_sha256(file_key, nonce, b"payload")


def chunk_nonce(counter: int, last: bool) -> bytes:
    """The 12-byte ChaCha20-Poly1305 nonce of chunk ``counter``."""
    if not 0 <= counter <= _MAX_COUNTER:
        raise IntegrityError("age payload has more chunks than the format can count")
    return counter.to_bytes(_COUNTER_BYTES, "big") + (b"\x01" if last else b"\x00")


class PayloadSealer:
    """Turns plaintext pieces into sealed chunks; ``finish()`` seals the final one."""

    def __init__(self, file_key: bytes, nonce: bytes) -> None:
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._pending = bytearray()
        self._counter = 0
        self._finished = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add plaintext; return the chunks now known not to be the final one.

        A full chunk stays pending until at least one more byte arrives, since a plaintext
        whose length is a multiple of 64 KiB ends with a full-size final chunk.
        Feed pieces of at most one chunk to keep memory at about two chunks.
        """
        if self._finished:
            raise ValueError("feed() after finish()")
        self._pending += data
        sealed: list[bytes] = []
        while len(self._pending) > CHUNK_SIZE:
            sealed.append(self._seal(bytes(self._pending[:CHUNK_SIZE]), last=False))
            del self._pending[:CHUNK_SIZE]
        return sealed

    def finish(self) -> bytes:
        """Seal what is pending as the final chunk (empty only if nothing was fed at all)."""
        if self._finished:
            raise ValueError("finish() called twice")
        self._finished = True
        final = self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        return final

    def _seal(self, plaintext: bytes, last: bool) -> bytes:
        sealed = self._aead.encrypt(chunk_nonce(self._counter, last), plaintext, None)
        self._counter += 1
        return sealed


class PayloadOpener:
    """Opens sealed chunks in order; the caller says which chunk the data ended with."""

    def __init__(self, file_key: bytes, nonce: bytes) -> None:
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._counter = 0
        self.finished = False

    def open(self, sealed: bytes, last: bool) -> bytes:
        """Authenticate and decrypt the next chunk; raise IntegrityError on any mismatch.

        ``last`` must be True exactly when the data ends with this chunk: a chunk cut short
        by truncation is then opened with the wrong flag (or is too short) and fails.
        """
        index = self._counter
        if self.finished:
            raise IntegrityError(f"age payload has data after its final chunk {index - 1}")
        if len(sealed) < TAG_SIZE:
            raise IntegrityError(
                f"age payload ends inside chunk {index} before its final chunk (truncated)"
            )
        if len(sealed) > SEALED_CHUNK_SIZE or (not last and len(sealed) != SEALED_CHUNK_SIZE):
            raise IntegrityError(f"age payload chunk {index} has the wrong size")
        if last and index > 0 and len(sealed) == TAG_SIZE:
            raise IntegrityError(
                f"age payload final chunk {index} is empty, which the format forbids"
            )
        try:
            plaintext = self._aead.decrypt(chunk_nonce(index, last), sealed, None)
        except InvalidTag:
            raise IntegrityError(
                f"age payload chunk {index} failed authentication: the file was altered, "
                "truncated or reordered; discard anything already read from it"
            ) from None
        self._counter += 1
        self.finished = last
        return plaintext
