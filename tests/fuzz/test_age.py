"""age envelope: ``IntegrityError`` for every bad file, ``KeyFormatError`` for every bad key."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.envelope.age import (
    Identity,
    IntegrityError,
    KeyFormatError,
    Recipient,
    decrypt_stream,
)
from tests.envelope.age_support import ALICE, encrypt, pattern
from tests.fuzz.support import FUZZ, mutated

# two chunks and a bit: mutations reach the header, a full chunk and the last chunk
VALID = encrypt(pattern(2 * 64 * 1024 + 100))
SMALL = encrypt(b"a short secret")


def decrypted(data: bytes) -> bytes:
    return b"".join(decrypt_stream([ALICE], data))


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_an_integrity_error(data: bytes) -> None:
    try:
        decrypted(data)
    except IntegrityError:
        return
    raise AssertionError("random bytes decrypted")


@FUZZ
@given(st.one_of(mutated(SMALL), mutated(VALID)))
def test_a_mutated_age_file_never_decrypts(data: bytes) -> None:
    try:
        decrypted(data)
    except IntegrityError:
        return
    raise AssertionError("a mutated age file decrypted")


@FUZZ
@given(st.integers(0, len(SMALL) - 1), st.binary(min_size=1, max_size=200))
def test_a_header_with_lines_spliced_in_is_rejected(at: int, extra: bytes) -> None:
    try:
        decrypted(SMALL[:at] + extra + SMALL[at:])
    except IntegrityError:
        return
    raise AssertionError("a spliced age file decrypted")


@FUZZ
@given(
    st.one_of(
        st.text(max_size=100),
        st.text(alphabet="age1qpzry9x8gf2tvdw0s3jn54khce6mua7l", max_size=80),
        st.text(alphabet="AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", max_size=90),
    )
)
def test_key_strings_are_parsed_or_refused_with_key_format_error(text: str) -> None:
    for parse in (Recipient.from_string, Identity.from_string):
        with contextlib.suppress(KeyFormatError):
            parse(text)


@FUZZ
@given(mutated(ALICE.recipient.to_string().encode()))
def test_a_mutated_recipient_is_refused_or_another_key(data: bytes) -> None:
    """bech32's checksum: a changed recipient string is refused, never read as ALICE's."""
    try:
        recipient = Recipient.from_string(data.decode("utf-8", "replace"))
    except KeyFormatError:
        return
    assert recipient != ALICE.recipient
