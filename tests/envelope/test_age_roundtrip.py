"""What goes in comes out: sizes around chunk boundaries, several recipients, both encoder APIs."""

from __future__ import annotations

import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retention_pipeline.envelope.age import (
    EncryptingWriter,
    IntegrityError,
    KeyFormatError,
    decrypt_stream,
    encrypt_stream,
    generate_identity,
)
from retention_pipeline.envelope.age_format import CHUNK_SIZE, SEALED_CHUNK_SIZE
from tests.envelope.age_support import ALICE, BOB, CAROL, decrypt, encrypt, header_length, pattern

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 5 * 1024 * 1024 + 3]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int) -> None:
    data = pattern(size)
    ciphertext = encrypt(data)
    assert decrypt(ciphertext) == data
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(ciphertext) == header_length(ciphertext) + 16 + size + 16 * chunks


@pytest.mark.parametrize("size", [0, CHUNK_SIZE, 3 * CHUNK_SIZE])
def test_final_chunk_is_never_empty_unless_plaintext_is(size: int) -> None:
    ciphertext = encrypt(pattern(size))
    payload = len(ciphertext) - header_length(ciphertext) - 16
    assert payload % SEALED_CHUNK_SIZE == (16 if size == 0 else 0)


def test_every_recipient_can_decrypt_and_no_one_else() -> None:
    data = pattern(100_000)
    ciphertext = encrypt(data, [ALICE.recipient, BOB.recipient, ALICE.recipient])
    assert ciphertext.count(b"\n-> X25519 ") == 2  # duplicate recipient gets one stanza
    assert decrypt(ciphertext, [ALICE]) == data
    assert decrypt(ciphertext, [BOB]) == data
    assert decrypt(ciphertext, [CAROL, BOB]) == data
    with pytest.raises(IntegrityError, match="no identity matches"):
        decrypt(ciphertext, [CAROL])


def test_each_file_uses_fresh_randomness() -> None:
    first, second = encrypt(b"same"), encrypt(b"same")
    assert first != second
    assert first[: header_length(first)] != second[: header_length(second)]


def test_generated_identity_round_trips_through_its_strings() -> None:
    identity = generate_identity()
    again = type(identity).from_string(identity.to_string())
    assert identity.to_string().startswith("AGE-SECRET-KEY-1")
    assert again.recipient == identity.recipient
    assert identity.recipient.to_string().startswith("age1")
    assert decrypt(encrypt(b"x", [identity.recipient]), [again]) == b"x"


def test_sources_may_be_files_iterables_or_bytes() -> None:
    data = pattern(3 * CHUNK_SIZE + 17)
    ciphertext = b"".join(encrypt_stream([ALICE.recipient], io.BytesIO(data)))
    assert decrypt(io.BytesIO(ciphertext)) == data
    pieces = (ciphertext[i : i + 1000] for i in range(0, len(ciphertext), 1000))
    assert decrypt(pieces) == data


def test_yielded_pieces_are_at_most_one_chunk() -> None:
    ciphertext = encrypt(pattern(3 * CHUNK_SIZE))
    sizes = [len(piece) for piece in encrypt_stream([ALICE.recipient], [pattern(3 * CHUNK_SIZE)])]
    assert max(sizes[1:]) == SEALED_CHUNK_SIZE
    assert [len(piece) for piece in decrypt_stream([ALICE], ciphertext)] == [CHUNK_SIZE] * 3


def test_encrypting_writer_matches_stream_and_age_layout() -> None:
    data = pattern(2 * CHUNK_SIZE + 5)
    sink = io.BytesIO()
    with EncryptingWriter(sink, [ALICE.recipient, BOB.recipient]) as writer:
        for start in range(0, len(data), 10_000):
            assert writer.write(data[start : start + 10_000]) == len(data[start : start + 10_000])
    assert decrypt(sink.getvalue(), [BOB]) == data


def test_failed_producer_leaves_an_undecryptable_file() -> None:
    data = pattern(2 * CHUNK_SIZE + 5)
    sink = io.BytesIO()
    with pytest.raises(RuntimeError), EncryptingWriter(sink, [ALICE.recipient]) as writer:
        writer.write(data)
        raise RuntimeError("dump failed")
    assert writer.closed
    with pytest.raises(IntegrityError):
        decrypt(sink.getvalue())


def test_no_recipient_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="no recipient"):
        encrypt_stream([], b"x")  # refused at call time, before any byte is produced


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
)
def test_property_decrypt_inverts_encrypt_for_any_input_chunking(
    data: bytes, cuts: list[int]
) -> None:
    bounds = [0, *sorted(cut for cut in cuts if cut <= len(data)), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    ciphertext = b"".join(encrypt_stream([ALICE.recipient], pieces))
    split = [ciphertext[a:b] for a, b in itertools.pairwise(bounds)]
    split.append(ciphertext[bounds[-1] :])
    assert decrypt(split) == data


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 2),
    piece=st.sampled_from([1, 4095, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 10**6]),
)
def test_property_round_trip_across_chunk_boundaries(size: int, piece: int) -> None:
    size = min(size, 3 * CHUNK_SIZE + 2) if piece > 1 else size % 5000
    data = pattern(size, seed=size)
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    assert decrypt(encrypt_stream([ALICE.recipient], pieces)) == data
