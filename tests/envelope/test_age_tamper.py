"""Any change to an age file is detected, and no plaintext of a bad chunk is ever released."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from retention_pipeline.envelope.age import (
    AgeEncoder,
    EncryptionSecrets,
    Identity,
    IntegrityError,
    decrypt_stream,
)
from retention_pipeline.envelope.age_format import CHUNK_SIZE, SEALED_CHUNK_SIZE
from retention_pipeline.envelope.age_header import Stanza, encode_header, wrap_x25519
from retention_pipeline.envelope.age_payload import chunk_nonce, payload_key
from tests.envelope.age_support import (
    ALICE,
    BOB,
    chunk_offset,
    consume,
    decrypt,
    encrypt,
    header_length,
    pattern,
)

PLAINTEXT = pattern(3 * CHUNK_SIZE + 1000)  # chunks 0, 1, 2 full, chunk 3 final and short
SECRETS = EncryptionSecrets(bytes(range(16)), (bytes([9]) * 32,), bytes(range(16, 32)))


def _encrypt_fixed(plaintext: bytes) -> bytes:
    """Deterministic ciphertext, so failures reproduce byte for byte."""
    encoder = AgeEncoder([ALICE.recipient], SECRETS)
    return b"".join([encoder.start(), *encoder.feed(plaintext), encoder.finish()])


CIPHERTEXT = _encrypt_fixed(PLAINTEXT)


def _flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


def _assert_rejected(ciphertext: bytes, released_chunks: int = 0) -> IntegrityError:
    outcome = consume(decrypt_stream([ALICE], ciphertext))
    assert outcome.error is not None, "tampered file decrypted without error"
    assert outcome.plaintext == PLAINTEXT[: released_chunks * CHUNK_SIZE]
    message = str(outcome.error)
    assert SECRETS.file_key.hex() not in message and ALICE.to_string() not in message
    return outcome.error


def test_intact_file_decrypts() -> None:
    assert decrypt(CIPHERTEXT) == PLAINTEXT


@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
@pytest.mark.parametrize("where", [0, 100, -1])
def test_flipped_payload_byte_releases_only_earlier_chunks(chunk: int, where: int) -> None:
    end = chunk_offset(CIPHERTEXT, chunk + 1) if chunk < 3 else len(CIPHERTEXT)
    position = chunk_offset(CIPHERTEXT, chunk) + where if where >= 0 else end + where
    error = _assert_rejected(_flip(CIPHERTEXT, position), released_chunks=chunk)
    assert f"chunk {chunk}" in str(error)


def test_flipping_any_header_or_nonce_byte_is_detected() -> None:
    for position in range(header_length(CIPHERTEXT) + 16):
        _assert_rejected(_flip(CIPHERTEXT, position))


def test_truncation_anywhere_is_detected() -> None:
    header = header_length(CIPHERTEXT)
    cuts = [0, 10, header - 1, header, header + 8, header + 16, len(CIPHERTEXT) - 1]
    for chunk in (1, 2, 3):
        cuts += [chunk_offset(CIPHERTEXT, chunk) - 1, chunk_offset(CIPHERTEXT, chunk)]
        cuts += [chunk_offset(CIPHERTEXT, chunk) + 1, chunk_offset(CIPHERTEXT, chunk) + 500]
    for cut in cuts:
        complete_chunks = max(0, (cut - header - 16) // SEALED_CHUNK_SIZE)
        # A cut exactly at a chunk boundary makes the previous chunk look final: it fails too.
        at_boundary = cut > header + 16 and (cut - header - 16) % SEALED_CHUNK_SIZE == 0
        _assert_rejected(CIPHERTEXT[:cut], released_chunks=complete_chunks - at_boundary)


def test_dropping_the_final_chunk_of_an_exact_multiple_is_detected() -> None:
    ciphertext = encrypt(pattern(2 * CHUNK_SIZE))
    outcome = consume(decrypt_stream([ALICE], ciphertext[: chunk_offset(ciphertext, 1)]))
    assert outcome.error is not None and outcome.released == []


@pytest.mark.parametrize(("first", "second"), [(0, 1), (1, 2), (2, 3)])
def test_swapped_chunks_are_detected(first: int, second: int) -> None:
    chunks = [
        CIPHERTEXT[chunk_offset(CIPHERTEXT, i) : chunk_offset(CIPHERTEXT, i + 1)] for i in range(4)
    ]
    chunks[first], chunks[second] = chunks[second], chunks[first]
    swapped = CIPHERTEXT[: chunk_offset(CIPHERTEXT, 0)] + b"".join(chunks)
    _assert_rejected(swapped, released_chunks=first)


def test_duplicated_chunk_is_detected() -> None:
    chunk1 = CIPHERTEXT[chunk_offset(CIPHERTEXT, 1) : chunk_offset(CIPHERTEXT, 2)]
    doubled = (
        CIPHERTEXT[: chunk_offset(CIPHERTEXT, 2)]
        + chunk1
        + CIPHERTEXT[chunk_offset(CIPHERTEXT, 2) :]
    )
    _assert_rejected(doubled, released_chunks=2)


@pytest.mark.parametrize("garbage", [b"\x00", bytes(16), bytes(SEALED_CHUNK_SIZE), b"x" * 70_000])
@pytest.mark.parametrize("size", [5, CHUNK_SIZE, 3 * CHUNK_SIZE + 1000])
def test_appended_garbage_is_detected(garbage: bytes, size: int) -> None:
    plaintext = pattern(size)
    ciphertext = encrypt(plaintext) + garbage
    outcome = consume(decrypt_stream([ALICE], ciphertext))
    assert outcome.error is not None
    assert plaintext.startswith(outcome.plaintext) and len(outcome.plaintext) < size


def test_wrong_identity_is_refused_without_leaking_keys() -> None:
    error = _assert_rejected_with([BOB])
    assert "no identity matches any recipient stanza" in str(error)
    assert BOB.to_string() not in str(error)


def _assert_rejected_with(identities: list[Identity]) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        decrypt(CIPHERTEXT, identities)
    return caught.value


def test_empty_final_chunk_after_data_is_rejected() -> None:
    # Built by hand: a correct header, one full non-final chunk, then a sealed empty final one.
    header = encode_header(
        [wrap_x25519(SECRETS.file_key, ALICE.recipient, SECRETS.ephemeral_secrets[0])],
        SECRETS.file_key,
    )
    aead = ChaCha20Poly1305(payload_key(SECRETS.file_key, SECRETS.nonce))
    chunk0 = aead.encrypt(chunk_nonce(0, last=False), PLAINTEXT[:CHUNK_SIZE], None)
    empty_final = aead.encrypt(chunk_nonce(1, last=True), b"", None)
    with pytest.raises(IntegrityError, match="empty"):
        decrypt(header + SECRETS.nonce + chunk0 + empty_final)


def _header_variant(stanzas: list[Stanza]) -> bytes:
    """A file whose header has a valid MAC over ``stanzas``, with CIPHERTEXT's payload."""
    payload = CIPHERTEXT[header_length(CIPHERTEXT) :]
    return encode_header(stanzas, SECRETS.file_key) + payload


def test_unknown_and_grease_stanzas_are_skipped() -> None:
    ours = wrap_x25519(SECRETS.file_key, ALICE.recipient, SECRETS.ephemeral_secrets[0])
    grease = Stanza(("a7&-grease", "x=", "{}"), pattern(48))
    ssh = Stanza(("ssh-ed25519", "AbCdEf", "Zm9v"), pattern(32, seed=3))
    assert decrypt(_header_variant([grease, ssh, ours])) == PLAINTEXT


@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h.replace(b"\n", b"\r\n", 1),  # CRLF
        lambda h: h.replace(b"age-encryption.org/v1", b"age-encryption.org/v2"),
        lambda h: b"-----BEGIN AGE ENCRYPTED FILE-----\n" + base64.b64encode(h),
        lambda h: h.replace(b"-> X25519 ", b"-> X25519  "),  # empty argument
        lambda h: h.replace(b"\n--- ", b"=\n--- "),  # padded body
        lambda h: h.replace(b"\n--- ", b"\n-> X25519 AAAA\nAAAA\n--- "),  # short share
        lambda h: h[: h.index(b"\n--- ") + 1] + b"---\n",  # MAC missing
        lambda h: h.split(b"\n", 1)[0] + b"\n" + h[h.index(b"--- ") :],  # no stanza
    ],
)
def test_malformed_headers_are_rejected(edit: Callable[[bytes], bytes]) -> None:
    header = CIPHERTEXT[: header_length(CIPHERTEXT)]
    _assert_rejected(edit(header) + CIPHERTEXT[len(header) :])


def test_x25519_stanza_with_extra_argument_is_rejected_even_if_another_matches() -> None:
    ours = wrap_x25519(SECRETS.file_key, ALICE.recipient, SECRETS.ephemeral_secrets[0])
    extra = Stanza((*ours.args, "extra"), ours.body)
    with pytest.raises(IntegrityError, match="exactly one argument"):
        decrypt(_header_variant([ours, extra]))


def test_non_canonical_share_is_rejected() -> None:
    ours = wrap_x25519(SECRETS.file_key, ALICE.recipient, SECRETS.ephemeral_secrets[0])
    share = ours.args[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bumped = share[:-1] + alphabet[alphabet.index(share[-1]) + 1]  # spare bits set
    with pytest.raises(IntegrityError, match="canonical"):
        decrypt(_header_variant([Stanza(("X25519", bumped), ours.body)]))
