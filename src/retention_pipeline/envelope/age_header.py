"""The age v1 header: stanzas that wrap the file key, and the MAC that seals them.

Rules this module enforces (docs/format.md, section 3):
- the header is parsed strictly (LF only, single-space arguments of VCHAR, 64-column canonical
  base64 bodies, at least one stanza), so the bytes the MAC covers have exactly one meaning;
- unknown stanza types (ssh-ed25519, scrypt, grease...) are skipped; a malformed X25519 stanza
  or a low-order X25519 share aborts decoding;
- the MAC is checked in constant time, after the file key is unwrapped.

Everything is pure: the ephemeral secrets and the file key are parameters, and the parser reads
through a ``read_line`` callable supplied by the caller.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from retention_pipeline.envelope.age_format import (
    FILE_KEY_SIZE,
    VERSION_LINE,
    X25519_KEY_SIZE,
    IntegrityError,
    b64decode_canonical,
    b64encode,
    hkdf_sha256,
)
from retention_pipeline.envelope.age_keys import Identity, KeyFormatError, Recipient

X25519_TYPE = "X25519"
SCRYPT_TYPE = "scrypt"
X25519_INFO = b"age-encryption.org/v1/X25519"
_WRAP_NONCE = bytes(12)
_BODY_COLUMNS = 64
_BODY_LINE_BYTES = 48  # 64 base64 characters
_MAC_SIZE = 32
MAX_HEADER_LINE = 16 * 1024
MAX_HEADER_LINES = 4096

ReadLine = Callable[[int], bytes]
"""``read_line(limit)``: the next line including its LF, or fewer bytes at end of data."""


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its arguments (the first names its type) and its binary body."""

    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        """``-> args`` then the body in 64-column base64, ending with a line shorter than 64."""
        lines = [b"-> " + " ".join(self.args).encode("ascii")]
        body = self.body
        while True:
            piece, body = body[:_BODY_LINE_BYTES], body[_BODY_LINE_BYTES:]
            lines.append(b64encode(piece))
            if len(piece) < _BODY_LINE_BYTES:
                break
        return b"\n".join(lines) + b"\n"


@dataclass(frozen=True)
class Header:
    """A parsed header: its stanzas, its MAC, and the exact bytes the MAC covers."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA-256 under HKDF(file key, salt empty, "header") over the header up to ``---``."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.digest(key, mac_input, "sha256")


def encode_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    """The complete header, MAC line included."""
    if not stanzas:
        raise ValueError("an age header needs at least one recipient stanza")
    mac_input = VERSION_LINE + b"".join(stanza.encode() for stanza in stanzas) + b"---"
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)) + b"\n"


def wrap_x25519(file_key: bytes, recipient: Recipient, ephemeral_secret: bytes) -> Stanza:
    """Wrap the file key to one recipient with the given (fresh, secret) ephemeral scalar."""
    if len(file_key) != FILE_KEY_SIZE or len(ephemeral_secret) != X25519_KEY_SIZE:
        raise ValueError("file key must be 16 bytes and ephemeral secret 32 bytes")
    ephemeral = X25519PrivateKey.from_private_bytes(ephemeral_secret)
    share = ephemeral.public_key().public_bytes_raw()
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.public_bytes))
    except ValueError:
        raise KeyFormatError(
            f"recipient {recipient.fingerprint()} is a low-order X25519 point and cannot be "
            "encrypted to; check the client key in the policy"
        ) from None
    wrap_key = hkdf_sha256(shared, share + recipient.public_bytes, X25519_INFO)
    body = ChaCha20Poly1305(wrap_key).encrypt(_WRAP_NONCE, file_key, None)
    return Stanza((X25519_TYPE, b64encode(share).decode("ascii")), body)


def parse_header(read_line: ReadLine) -> Header:
    """Read and strictly parse a header, stopping right after its MAC line."""
    first = read_line(MAX_HEADER_LINE)
    if first != VERSION_LINE:
        raise IntegrityError(_describe_bad_first_line(first))
    consumed = [first]
    stanzas: list[Stanza] = []
    line = _next_line(read_line, len(consumed) + 1)
    while line.startswith(b"-> "):
        consumed.append(line)
        args = _parse_args(line, len(consumed))
        body_lines: list[bytes] = []
        while True:
            body_line = _next_line(read_line, len(consumed) + 1)
            consumed.append(body_line)
            body_lines.append(body_line[:-1])
            if len(body_line) - 1 > _BODY_COLUMNS:
                raise IntegrityError(f"age header line {len(consumed)}: body wider than 64")
            if len(body_line) - 1 < _BODY_COLUMNS:
                break
        what = f"body of stanza {len(stanzas) + 1}"
        stanzas.append(Stanza(args, b64decode_canonical(b"".join(body_lines), what)))
        line = _next_line(read_line, len(consumed) + 1)
    if not line.startswith(b"--- "):
        raise IntegrityError(f"age header line {len(consumed) + 1}: expected '-> ' or '--- '")
    if not stanzas:
        raise IntegrityError("age header has no recipient stanza")
    mac = b64decode_canonical(line[4:-1], "MAC")
    if len(mac) != _MAC_SIZE:
        raise IntegrityError("age header MAC has the wrong length")
    return Header(tuple(stanzas), mac, b"".join(consumed) + b"---")


def _describe_bad_first_line(first: bytes) -> str:
    if first.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        return "age file is ASCII-armored; only binary age files are read (dearmor it first)"
    if first.rstrip(b"\r\n") == VERSION_LINE[:-1]:
        return "age header line 1 does not end with a bare LF"
    if first.startswith(b"age-encryption.org/"):
        return "age file has an unsupported version (only age-encryption.org/v1 is read)"
    return "not an age file: line 1 is not 'age-encryption.org/v1'"


def _next_line(read_line: ReadLine, number: int) -> bytes:
    if number > MAX_HEADER_LINES:
        raise IntegrityError("age header has too many lines")
    line = read_line(MAX_HEADER_LINE)
    if not line.endswith(b"\n"):
        raise IntegrityError(f"age header is truncated or line {number} is too long")
    if b"\r" in line:
        raise IntegrityError(f"age header line {number} contains CR; age headers use LF only")
    return line


def _parse_args(line: bytes, number: int) -> tuple[str, ...]:
    args = tuple(line[3:-1].split(b" "))
    if any(not arg or any(not 0x21 <= char <= 0x7E for char in arg) for arg in args):
        raise IntegrityError(f"age header line {number}: malformed stanza arguments")
    return tuple(arg.decode("ascii") for arg in args)


def unwrap_file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    """Find the file key with any identity, then verify the header MAC under it.

    A header with an ``scrypt`` stanza beside any other is refused, as the age spec
    requires of every implementation (a passphrase file must have no other recipient).
    """
    if len(header.stanzas) > 1 and any(s.args[0] == SCRYPT_TYPE for s in header.stanzas):
        raise IntegrityError("age header: an scrypt stanza must be the only stanza")
    candidates = [
        (index, _x25519_share(stanza, index))
        for index, stanza in enumerate(header.stanzas, start=1)
        if stanza.args[0] == X25519_TYPE
    ]
    for index, share in candidates:
        for identity in identities:
            file_key = _unwrap_x25519(header.stanzas[index - 1], share, identity, index)
            if file_key is not None:
                if not hmac.compare_digest(header_mac(file_key, header.mac_input), header.mac):
                    raise IntegrityError(
                        "age header MAC does not match: the header was altered after encryption"
                    )
                return file_key
    raise IntegrityError(
        "no identity matches any recipient stanza: the file was not encrypted to these keys"
    )


def _x25519_share(stanza: Stanza, index: int) -> bytes:
    """Validate an X25519 stanza's shape before any decryption (spec: MUST reject)."""
    if len(stanza.args) != 2:
        raise IntegrityError(f"age X25519 stanza {index} must have exactly one argument")
    share = b64decode_canonical(stanza.args[1].encode("ascii"), f"share of stanza {index}")
    if len(share) != X25519_KEY_SIZE or len(stanza.body) != FILE_KEY_SIZE + 16:
        raise IntegrityError(f"age X25519 stanza {index} has a share or body of the wrong size")
    return share


def _unwrap_x25519(stanza: Stanza, share: bytes, identity: Identity, index: int) -> bytes | None:
    shared = identity.shared_secret(share)
    if not any(shared):
        raise IntegrityError(f"age X25519 stanza {index} has a low-order share")
    salt = share + identity.recipient.public_bytes
    wrap_key = hkdf_sha256(shared, salt, X25519_INFO)
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_WRAP_NONCE, stanza.body, None)
    except InvalidTag:
        return None  # not this identity: try the next one
