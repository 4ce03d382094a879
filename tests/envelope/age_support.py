"""Helpers shared by the age format tests: fixed keys, file layout arithmetic, safe collection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retention_pipeline.envelope.age import (
    Identity,
    IntegrityError,
    Recipient,
    Source,
    decrypt_stream,
    encrypt_stream,
)
from retention_pipeline.envelope.age_format import CHUNK_SIZE, SEALED_CHUNK_SIZE

# Fixed test identities (never real keys): 32 x 0x01 and 32 x 0x02.
ALICE = Identity(bytes([1]) * 32)
BOB = Identity(bytes([2]) * 32)
CAROL = Identity(bytes([3]) * 32)


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-per-chunk bytes, so swapped chunks differ."""
    return bytes((index * 7 + seed + index // CHUNK_SIZE) % 251 for index in range(size))


def encrypt(data: bytes, recipients: Sequence[Recipient] = (ALICE.recipient,)) -> bytes:
    """The whole age file for ``data``."""
    return b"".join(encrypt_stream(recipients, data))


def decrypt(data: Source, identities: Sequence[Identity] = (ALICE,)) -> bytes:
    """The whole plaintext, or IntegrityError."""
    return b"".join(decrypt_stream(identities, data))


def header_length(ciphertext: bytes) -> int:
    """Bytes up to and including the MAC line's LF."""
    mac_line = ciphertext.index(b"\n--- ") + 1
    return ciphertext.index(b"\n", mac_line) + 1


def chunk_offset(ciphertext: bytes, index: int) -> int:
    """Where sealed chunk ``index`` starts."""
    return header_length(ciphertext) + 16 + index * SEALED_CHUNK_SIZE


@dataclass
class Outcome:
    """What a consumer saw: the pieces released before the error, and the error."""

    released: list[bytes] = field(default_factory=list)
    error: IntegrityError | None = None

    @property
    def plaintext(self) -> bytes:
        return b"".join(self.released)


def consume(pieces: Iterable[bytes]) -> Outcome:
    """Drive a decrypting iterator the way a restore does, recording what it released."""
    outcome = Outcome()
    try:
        for piece in pieces:
            outcome.released.append(piece)
    except IntegrityError as error:
        outcome.error = error
    return outcome
