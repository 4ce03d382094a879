"""DSSE: the signed envelope around a certificate (github.com/secure-systems-lab/dsse, v1).

The signature covers the pre-authentication encoding (PAE) of the payload *and* its type,
so a payload cannot be replayed under another type::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

``LEN`` is the byte length as ASCII decimal without leading zeros, ``SP`` one space (0x20),
``type`` is UTF-8. The JSON envelope is::

    {"payload": b64(body), "payloadType": type, "signatures": [{"keyid": id, "sig": b64(sig)}]}

Rules of our profile (the spec leaves these to the application):

* signatures are Ed25519 (RFC 8032) over the PAE bytes, so ``openssl pkeyutl -verify
  -rawin`` checks them with nothing of ours (see docs/certificates.md);
* ``keyid`` is the lowercase hex SHA-256 of the raw 32-byte public key; a verifier only
  tries signatures whose keyid names its key (the spec's "narrow the selection");
* base64 is RFC 4648 standard alphabet with padding, and only that: the spec allows the
  URL-safe alphabet too, but the transparency log hashes the envelope's JSON, so one
  signed envelope must have one spelling; non-canonical encodings (stray bits) are
  refused for the same reason, and so a flipped character is never silently ignored;
* unknown envelope fields are ignored, as the spec requires.

Every failure raises ``CertificateError`` with a message that says which part failed,
never the payload's content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from retention_pipeline.errors import RetentionError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class CertificateError(RetentionError):
    """A certificate, bundle, proof or checkpoint failed a check; the text says which."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding: the exact bytes the signature covers."""
    type_bytes = payload_type.encode("utf-8")
    return b"".join(
        [
            b"DSSEv1 ",
            str(len(type_bytes)).encode("ascii"),
            b" ",
            type_bytes,
            b" ",
            str(len(payload)).encode("ascii"),
            b" ",
            payload,
        ]
    )


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw public key: the keyid and the key's printed name."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def b64encode(data: bytes) -> str:
    """Standard base64 with padding: the one spelling we write."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: Any, what: str) -> bytes:
    """Decode standard base64, refusing anything that does not re-encode to ``text`` exactly."""
    if not isinstance(text, str) or not text.isascii():
        raise CertificateError(f"{what} is not a base64 string")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CertificateError(f"{what} is not valid base64") from error
    if base64.b64encode(data).decode("ascii") != text:
        raise CertificateError(f"{what} is not canonical base64 (stray bits or padding)")
    return data


def sign_envelope(
    payload: bytes, payload_type: str, signing_key: Ed25519PrivateKey, keyid: str | None = None
) -> dict[str, Any]:
    """Sign ``payload`` as ``payload_type``; ``keyid`` defaults to the key's fingerprint."""
    signature = signing_key.sign(pae(payload_type, payload))
    if keyid is None:
        keyid = key_fingerprint(signing_key.public_key())
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid, "sig": b64encode(signature)}],
    }


def verify_envelope(
    envelope: Any,
    public_key: Ed25519PublicKey,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
) -> bytes:
    """Return the payload bytes if a signature by ``public_key`` verifies over the PAE.

    ``payload_type`` is what the caller expects: a valid signature over another type is
    still a rejection, because the payload would be read with the wrong schema.
    """
    if not isinstance(envelope, Mapping):
        raise CertificateError("envelope is not a JSON object")
    found_type = envelope.get("payloadType")
    if not isinstance(found_type, str):
        raise CertificateError("envelope.payloadType is missing or not a string")
    if found_type != payload_type:
        raise CertificateError(f"envelope.payloadType is {found_type!r}, expected {payload_type!r}")
    payload = b64decode(envelope.get("payload"), "envelope.payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise CertificateError("envelope.signatures is missing or empty")
    keyid = key_fingerprint(public_key)
    message = pae(found_type, payload)
    tried = 0
    for index, entry in enumerate(signatures):
        if not isinstance(entry, Mapping):
            raise CertificateError(f"envelope.signatures[{index}] is not a JSON object")
        if entry.get("keyid") != keyid:
            continue
        tried += 1
        signature = b64decode(entry.get("sig"), f"envelope.signatures[{index}].sig")
        try:
            public_key.verify(signature, message)
        except InvalidSignature:
            continue
        return payload
    if tried == 0:
        raise CertificateError(
            f"envelope has no signature by key {keyid}; check that --pubkey is the "
            "certificate key of the hoster that issued it"
        )
    raise CertificateError(
        f"envelope signature by key {keyid} does not verify: the certificate was altered"
    )
