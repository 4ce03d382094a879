"""age v1 encryption of recovery points: the safe layer over the header and payload parts.

Every backup is written in this format (docs/format.md), so that a client can open its own
backup with the standard ``age`` tool. Public API:

- keys: ``generate_identity()``, ``Identity``, ``Recipient`` (re-exported from ``age_keys``);
- encrypt: ``encrypt_stream(recipients, source)`` (pull: yields ciphertext pieces) and
  ``EncryptingWriter(sink, recipients)`` (push: a writable object for tar/zstd producers);
- decrypt: ``decrypt_stream(identities, source)``;
- ``IntegrityError``: the one error for every decode failure.

Randomness enters only here, through ``EncryptionSecrets.generate()``; ``AgeEncoder`` and
everything under it are deterministic, which is what makes the test vectors possible.

Reading rule for consumers of ``decrypt_stream``: each yielded piece is authenticated, but the
plaintext is complete only when the iterator finished without raising. Truncation can only be
seen at the end (the missing last-chunk flag), so write into a scratch place and publish after.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Protocol

from retention_pipeline.envelope.age_format import (
    CHUNK_SIZE,
    FILE_KEY_SIZE,
    PAYLOAD_NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    TAG_SIZE,
    X25519_KEY_SIZE,
    IntegrityError,
)
from retention_pipeline.envelope.age_header import (
    encode_header,
    parse_header,
    unwrap_file_key,
    wrap_x25519,
)
from retention_pipeline.envelope.age_keys import (
    Identity,
    KeyFormatError,
    Recipient,
    generate_identity,
)
from retention_pipeline.envelope.age_payload import PayloadOpener, PayloadSealer

__all__ = [
    "AgeEncoder",
    "EncryptingWriter",
    "EncryptionSecrets",
    "Identity",
    "IntegrityError",
    "KeyFormatError",
    "Recipient",
    "Source",
    "decrypt_stream",
    "encrypt_stream",
    "encrypted_size_bound",
    "generate_identity",
]

Source = Iterable[bytes] | IO[bytes] | bytes
"""Where bytes come from: an iterable of pieces (any sizes), a binary file, or one bytes value."""

_READ_SIZE = SEALED_CHUNK_SIZE


@dataclass(frozen=True, repr=False)
class EncryptionSecrets:
    """The per-file random values: file key, one ephemeral secret per recipient, payload nonce.

    Pass one explicitly only in tests and test vectors; reusing any of these values for a
    second file destroys its confidentiality.
    """

    file_key: bytes
    ephemeral_secrets: tuple[bytes, ...]
    nonce: bytes

    @classmethod
    def generate(cls, recipient_count: int) -> EncryptionSecrets:
        """Fresh values from the OS CSPRNG: the only source of randomness of the encoder."""
        return cls(
            file_key=os.urandom(FILE_KEY_SIZE),
            ephemeral_secrets=tuple(os.urandom(X25519_KEY_SIZE) for _ in range(recipient_count)),
            nonce=os.urandom(PAYLOAD_NONCE_SIZE),
        )

    def __repr__(self) -> str:
        return "EncryptionSecrets(<secret>)"


def _unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    """Recipients in the given order, each once (a client key listed twice gets one stanza)."""
    seen: dict[bytes, Recipient] = {}
    for recipient in recipients:
        seen.setdefault(recipient.public_bytes, recipient)
    if not seen:
        raise KeyFormatError("cannot encrypt to no recipient: the client key is missing")
    return list(seen.values())


class AgeEncoder:
    """Sans-IO encoder: ``start()`` once, ``feed()`` plaintext, ``finish()`` once."""

    def __init__(self, recipients: Sequence[Recipient], secrets: EncryptionSecrets) -> None:
        unique = _unique(recipients)
        if len(secrets.ephemeral_secrets) != len(unique):
            raise ValueError("one ephemeral secret is needed per distinct recipient")
        stanzas = [
            wrap_x25519(secrets.file_key, recipient, ephemeral)
            for recipient, ephemeral in zip(unique, secrets.ephemeral_secrets, strict=True)
        ]
        self._header = encode_header(stanzas, secrets.file_key)
        self._nonce = secrets.nonce
        self._sealer = PayloadSealer(secrets.file_key, secrets.nonce)

    def start(self) -> bytes:
        """Header and payload nonce: the bytes that precede the first chunk."""
        return self._header + self._nonce

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Sealed chunks ready to be written (see ``PayloadSealer.feed``)."""
        return self._sealer.feed(data)

    def finish(self) -> bytes:
        """The final chunk; without it the file never decrypts."""
        return self._sealer.finish()


def _pieces(source: Source) -> Iterator[bytes | memoryview]:
    """Pieces of at most one chunk, so that the encoder never buffers more than two chunks."""
    if isinstance(source, bytes | bytearray | memoryview):
        source = [bytes(source)]
    elif hasattr(source, "read"):
        reader = source
        source = iter(lambda: reader.read(CHUNK_SIZE), b"")
    for piece in source:
        view = memoryview(piece)
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]


def encrypted_size_bound(plaintext_size: int, recipients: int) -> int:
    """An upper bound of the age file's size for ``plaintext_size`` bytes.

    Exact for the payload (nonce, plaintext, one tag per 64 KiB chunk and at least one
    chunk); the header is bounded generously (each X25519 stanza is under 120 bytes). An
    uploader sizes its parts with it before the first byte exists (S3 takes 10,000 parts).
    """
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    header = 256 + 256 * recipients
    return header + PAYLOAD_NONCE_SIZE + plaintext_size + chunks * TAG_SIZE


def encrypt_stream(
    recipients: Sequence[Recipient], source: Source, *, secrets: EncryptionSecrets | None = None
) -> Iterator[bytes]:
    """Encrypt ``source`` to every recipient, yielding the age file in pieces.

    Memory stays at about two 64 KiB chunks whatever the input size. Recipients are checked
    now, not at the first ``next()``. ``secrets`` is for tests only; by default fresh random
    values are drawn here.
    """
    encoder = _new_encoder(recipients, secrets)

    def pieces() -> Iterator[bytes]:
        yield encoder.start()
        for piece in _pieces(source):
            yield from encoder.feed(piece)
        yield encoder.finish()

    return pieces()


def _new_encoder(recipients: Sequence[Recipient], secrets: EncryptionSecrets | None) -> AgeEncoder:
    """The outermost layer: the one place where the encoder's randomness is drawn."""
    unique = _unique(recipients)
    if secrets is None:
        secrets = EncryptionSecrets.generate(len(unique))
    return AgeEncoder(unique, secrets)


class ByteSink(Protocol):
    """Anything with ``write(bytes)``: a file, a multipart-upload buffer, a hashing wrapper."""

    def write(self, data: bytes, /) -> object: ...


class EncryptingWriter:
    """A writable object that encrypts to ``sink``, for producers that push (tar, zstd).

    The final chunk is written only by a clean ``close()`` (or leaving ``with`` without an
    exception). If the producer fails, ``abort()`` (or the ``with`` block) leaves the output
    without a final chunk, so a crashed backup can never decrypt as a valid short one.
    The sink is not closed: its owner closes it.
    """

    def __init__(
        self,
        sink: ByteSink,
        recipients: Sequence[Recipient],
        *,
        secrets: EncryptionSecrets | None = None,
    ) -> None:
        self._encoder = _new_encoder(recipients, secrets)
        self._sink = sink
        self._sink.write(self._encoder.start())
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data``; returns its length, like ``io.RawIOBase.write``."""
        if self.closed:
            raise ValueError("write to a closed EncryptingWriter")
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_SIZE):
            for sealed in self._encoder.feed(view[start : start + CHUNK_SIZE]):
                self._sink.write(sealed)
        return len(view)

    def close(self) -> None:
        """Write the final chunk. Idempotent."""
        if not self.closed:
            self.closed = True
            self._sink.write(self._encoder.finish())

    def abort(self) -> None:
        """Stop without the final chunk: the output stays undecryptable on purpose."""
        self.closed = True

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _ByteSource:
    """Exact reads and line reads over any ``Source``, holding at most one piece plus a rest.

    The buffer is a ``bytearray`` consumed from the front, so a source that arrives in
    tiny pieces costs linear time (appending to an immutable rest copied it every time).
    """

    def __init__(self, source: Source) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            self._pieces: Iterator[bytes] = iter([bytes(source)])
        elif hasattr(source, "read"):
            reader = source
            self._pieces = iter(lambda: reader.read(_READ_SIZE), b"")
        else:
            self._pieces = iter(source)
        self._buffer = bytearray()

    def _fill(self) -> bool:
        """Append the next non-empty piece; False at the end of the data."""
        for piece in self._pieces:
            if piece:
                self._buffer += piece  # amortised: tiny pieces cost no quadratic copying
                return True
        return False

    def read(self, size: int) -> bytes:
        """``size`` bytes, or fewer only at the end of the data."""
        while len(self._buffer) < size and self._fill():
            pass
        with memoryview(self._buffer) as view:
            out = bytes(view[:size])
        del self._buffer[:size]
        return out

    def read_line(self, limit: int) -> bytes:
        """Up to and including the next LF, or at most ``limit`` bytes if none comes first."""
        while True:
            end = self._buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self.read(end + 1)
            if len(self._buffer) >= limit or not self._fill():
                return self.read(limit)

    def at_end(self) -> bool:
        """Whether no byte is left (may read ahead one piece to find out)."""
        return not self._buffer and not self._fill()


def decrypt_stream(identities: Sequence[Identity], source: Source) -> Iterator[bytes]:
    """Decrypt an age file, yielding plaintext one authenticated 64 KiB chunk at a time.

    Raises ``IntegrityError`` for any decode failure: bad or altered header, no matching
    identity, flipped byte, truncation, reordered chunks, data after the final chunk. No
    plaintext of a chunk that failed is ever yielded; the plaintext is complete only when
    this iterator finished without raising (see the module docstring).
    """
    reader = _ByteSource(source)
    header = parse_header(reader.read_line)
    file_key = unwrap_file_key(header, identities)
    nonce = reader.read(PAYLOAD_NONCE_SIZE)
    if len(nonce) < PAYLOAD_NONCE_SIZE:
        raise IntegrityError("age file ends before its payload nonce (truncated)")
    opener = PayloadOpener(file_key, nonce)
    while not opener.finished:
        sealed = reader.read(SEALED_CHUNK_SIZE)
        # A chunk is final exactly when the data ends with it: look one byte ahead.
        last = len(sealed) < SEALED_CHUNK_SIZE or reader.at_end()
        plaintext = opener.open(sealed, last)
        if plaintext:
            yield plaintext
