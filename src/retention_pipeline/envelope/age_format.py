"""Constants, the one decode error, and the small primitives shared by the age header and payload.

See ``docs/format.md`` for the format these serve. Everything here is pure: no I/O, no randomness.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from retention_pipeline.errors import RetentionError

VERSION_LINE = b"age-encryption.org/v1\n"
FILE_KEY_SIZE = 16
PAYLOAD_NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
X25519_KEY_SIZE = 32

_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]*")


class IntegrityError(RetentionError):
    """An age file failed to decode: altered, truncated, reordered, or not for our keys.

    One type for every decode failure, so that callers cannot mistake a partial check for a
    pass. Messages name the failing part (header line, stanza index, chunk index) and never
    carry key material or plaintext. The caller adds the object's opaque id.
    """


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 with 32 bytes of output, as every age derivation uses it."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def b64encode(data: bytes) -> bytes:
    """Standard base64 without ``=`` padding (canonical by construction)."""
    return base64.b64encode(data).rstrip(b"=")


def b64decode_canonical(text: bytes, what: str) -> bytes:
    """Decode unpadded base64, rejecting padding and non-canonical spare bits.

    Strictness matters: the header MAC covers the header bytes as written, so two spellings
    of the same value must not both be accepted.
    """
    if not _BASE64_TEXT.fullmatch(text) or len(text) % 4 == 1:
        raise IntegrityError(f"age header: {what} is not unpadded base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise IntegrityError(f"age header: {what} is not unpadded base64") from None
    if b64encode(data) != text:
        raise IntegrityError(f"age header: {what} is not canonical base64")
    return data
