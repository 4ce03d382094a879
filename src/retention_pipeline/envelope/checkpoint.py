"""Signed checkpoints: the log's tree head as a C2SP signed note (c2sp.org/tlog-checkpoint).

A checkpoint commits the log to a size and a root. Signed by the certificate key, it lets
a client check an inclusion proof offline, and two checkpoints plus a consistency proof
show that the log was never rewritten. The text is, byte for byte::

    <origin>\\n                 the log's name, e.g. "crm-hoster.example/certificates"
    <tree size>\\n              ASCII decimal, no leading zeros ("0" for the empty tree)
    <base64 root hash>\\n       RFC 4648 standard base64 of the 32-byte RFC 9162 root
    \\n                         blank line: end of the signed text
    — <key name> <base64(key id || Ed25519 signature)>\\n     one line per signer

The signature line starts with U+2014 EM DASH and a space. The Ed25519 signature covers
the three body lines including the final newline. The key id is the first 4 bytes of
``SHA-256(key name || 0x0A || 0x01 || raw public key)`` (0x01: the signed-note Ed25519
type), so a signature binds the key name as well as the key. As the signed-note spec
says, signature lines of unknown keys are ignored, and the first line of the expected
(name, key id) decides. Our log writes no extension lines and refuses checkpoints that
have some. Key names are non-empty and hold no whitespace and no ``+``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from retention_pipeline.envelope.dsse import CertificateError
from retention_pipeline.envelope.merkle import HASH_SIZE

SIGNATURE_PREFIX = "\u2014 "
ED25519_TYPE = b"\x01"
KEY_ID_SIZE = 4
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature verified: the tree head it commits to."""

    origin: str
    size: int
    root: bytes
    key_name: str
    text: str


def note_key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key id of an Ed25519 key under ``key_name``."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(key_name.encode("utf-8") + b"\n" + ED25519_TYPE + raw).digest()[:4]


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key string ``<name>+<hex key id>+<base64(0x01 || key)>``.

    Other signed-note tools (Go's ``golang.org/x/mod/sumdb/note``) accept this string,
    so a client can check our checkpoints with them too.
    """
    _check_key_name(key_name)
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    encoded = base64.b64encode(ED25519_TYPE + raw).decode("ascii")
    return f"{key_name}+{note_key_id(key_name, public_key).hex()}+{encoded}"


def checkpoint_body(origin: str, size: int, root_hash: bytes) -> str:
    """The signed text of a checkpoint (three lines, final newline included)."""
    if not origin or _CONTROL.search(origin) or "\n" in origin:
        raise ValueError("a checkpoint origin must be one non-empty line without control chars")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("a checkpoint tree size must be a non-negative integer")
    if len(root_hash) != HASH_SIZE:
        raise ValueError(f"a checkpoint root must be {HASH_SIZE} bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode('ascii')}\n"


def sign_checkpoint(
    origin: str,
    size: int,
    root_hash: bytes,
    key: Ed25519PrivateKey,
    key_name: str | None = None,
) -> str:
    """The signed note for tree head (``size``, ``root_hash``); ``key_name`` defaults to origin."""
    name = origin if key_name is None else key_name
    _check_key_name(name)
    body = checkpoint_body(origin, size, root_hash)
    signature = key.sign(body.encode("utf-8"))
    blob = base64.b64encode(note_key_id(name, key.public_key()) + signature).decode("ascii")
    return f"{body}\n{SIGNATURE_PREFIX}{name} {blob}\n"


def verify_checkpoint(
    text: object,
    public_key: Ed25519PublicKey,
    key_name: str | None = None,
    origin: str | None = None,
) -> Checkpoint:
    """Verify the signature of ``public_key`` (as ``key_name``) and parse the tree head.

    With ``key_name`` None, the first signature line whose key id matches its own name
    and ``public_key`` is used: the key id binds the name, the signature binds the text.
    """
    if not isinstance(text, str):
        raise CertificateError("checkpoint is not a text")
    body, signatures = _split_note(text)
    name, signature = _find_signature(signatures, public_key, key_name)
    try:
        public_key.verify(signature, body.encode("utf-8"))
    except InvalidSignature as error:
        raise CertificateError(
            f"checkpoint signature by {name!r} does not verify: the checkpoint was altered"
        ) from error
    lines = body[:-1].split("\n")
    if len(lines) != 3:
        raise CertificateError("checkpoint must have exactly 3 lines (origin, size, root)")
    found_origin, size_text, root_text = lines
    if origin is not None and found_origin != origin:
        raise CertificateError(f"checkpoint is for log {found_origin!r}, expected {origin!r}")
    if not _SIZE.fullmatch(size_text):
        raise CertificateError("checkpoint tree size is not a decimal number")
    root_hash = _decode_b64(root_text, "checkpoint root hash")
    if len(root_hash) != HASH_SIZE:
        raise CertificateError(f"checkpoint root hash is not {HASH_SIZE} bytes")
    return Checkpoint(found_origin, int(size_text), root_hash, name, text)


def _split_note(text: str) -> tuple[str, list[str]]:
    """(signed text, signature lines), refusing what the signed-note spec forbids."""
    if _CONTROL.search(text):
        raise CertificateError("checkpoint holds control characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CertificateError("checkpoint is not valid UTF-8") from error
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise CertificateError("checkpoint is not a signed note (no blank line before signatures)")
    body = text[: split + 1]
    if not body.strip("\n") or "\n\n" in body or body.startswith("\n"):
        raise CertificateError("checkpoint text has empty lines")
    lines = text[split + 2 : -1].split("\n")
    if len(lines) > 100:
        raise CertificateError("checkpoint has more than 100 signature lines")
    return body, lines


def _find_signature(
    lines: list[str], public_key: Ed25519PublicKey, key_name: str | None
) -> tuple[str, bytes]:
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX) or line.count(" ") != 2:
            raise CertificateError("checkpoint has a malformed signature line")
        name, blob_text = line[len(SIGNATURE_PREFIX) :].split(" ")
        if not name or "+" in name:
            raise CertificateError("checkpoint has a malformed signature line")
        blob = _decode_b64(blob_text, "checkpoint signature")
        if len(blob) < KEY_ID_SIZE + 1:
            raise CertificateError("checkpoint has a signature line that is too short")
        if key_name is not None and name != key_name:
            continue
        if blob[:KEY_ID_SIZE] != note_key_id(name, public_key):
            continue
        return name, blob[KEY_ID_SIZE:]
    wanted = f"key name {key_name!r}" if key_name is not None else "any key name"
    raise CertificateError(
        f"checkpoint is not signed by the given public key ({wanted}); check --pubkey"
    )


def _decode_b64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CertificateError(f"{what} is not valid base64") from error
    if base64.b64encode(data).decode("ascii") != text:
        raise CertificateError(f"{what} is not canonical base64")
    return data


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(char.isspace() for char in name):
        raise ValueError("a signed-note key name must be non-empty, without whitespace or '+'")
