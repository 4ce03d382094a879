"""The certificate bundle: the one JSON file a client receives, verifiable offline.

::

    {"checkpoint": "<signed note text, see checkpoint>",
     "envelope":   {"payload": ..., "payloadType": "application/vnd.in-toto+json",
                    "signatures": [{"keyid": <key fingerprint>, "sig": ...}]},
     "inclusion":  {"leaf_index": i, "tree_size": n, "path": [b64, ...], "root": b64}}

The file is canonical JSON (``canonical``) plus a final newline, so it is one line and
its fields come in a fixed order: docs/certificates.md extracts the payload and signature
with ``sed`` and checks them with ``openssl`` alone.

The log leaf of a certificate is ``d = SHA-256(canonical_json(envelope))`` (32 bytes;
the envelope object exactly as in the bundle), and its Merkle leaf hash is
``SHA-256(0x00 || d)``. ``verify_bundle`` needs nothing but the bundle and the public
key: no network, no catalog. It checks, in order, that

1. the bundle has exactly these three fields;
2. the envelope carries a valid Ed25519 signature by the key over the DSSE PAE, with
   payload type ``application/vnd.in-toto+json``;
3. the payload is canonical JSON and a valid destruction statement (``certificate``);
4. the checkpoint is signed by the same key (signed note) and commits to the inclusion's
   ``tree_size`` and ``root``;
5. the inclusion path leads from the envelope's leaf hash at ``leaf_index`` to that root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from retention_pipeline.envelope.canonical import canonical_json, parse_json_strict
from retention_pipeline.envelope.certificate import (
    DestructionPredicate,
    build_statement,
    check_statement,
)
from retention_pipeline.envelope.checkpoint import Checkpoint, verify_checkpoint
from retention_pipeline.envelope.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    CertificateError,
    b64decode,
    b64encode,
    key_fingerprint,
    sign_envelope,
    verify_envelope,
)
from retention_pipeline.envelope.merkle import leaf_hash, verify_inclusion
from retention_pipeline.envelope.signing_key import (
    generate_signing_key,
    load_public_key_pem,
    load_signing_key,
    public_key_pem,
    signing_key_fingerprint,
)

__all__ = [
    "VerifiedCertificate",
    "bundle_bytes",
    "envelope_leaf",
    "envelope_sha256",
    "generate_signing_key",
    "load_bundle",
    "load_public_key_pem",
    "load_signing_key",
    "make_bundle",
    "public_key_pem",
    "sign_certificate",
    "signing_key_fingerprint",
    "verify_bundle",
]

BUNDLE_FIELDS = frozenset({"checkpoint", "envelope", "inclusion"})
INCLUSION_FIELDS = frozenset({"leaf_index", "path", "root", "tree_size"})


@dataclass(frozen=True)
class VerifiedCertificate:
    """What a verified bundle proves: this statement, signed by this key, in this log."""

    statement: dict[str, Any]
    predicate: DestructionPredicate
    envelope_sha256: str
    key_fingerprint: str
    leaf_index: int
    tree_size: int
    checkpoint: Checkpoint


def sign_certificate(predicate: DestructionPredicate, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The DSSE envelope of ``predicate``'s statement, in canonical bytes, signed by ``key``."""
    payload = canonical_json(build_statement(predicate))
    return sign_envelope(payload, IN_TOTO_PAYLOAD_TYPE, key)


def envelope_leaf(envelope: Mapping[str, Any]) -> bytes:
    """The log leaf ``d``: SHA-256 of the envelope's canonical JSON (32 bytes)."""
    try:
        return hashlib.sha256(canonical_json(envelope)).digest()
    except (TypeError, ValueError) as error:
        raise CertificateError(f"envelope is not plain JSON: {error}") from error


def envelope_sha256(envelope: Mapping[str, Any]) -> str:
    """``envelope_leaf`` in lowercase hex: the certificate's id in the catalog and the log."""
    return envelope_leaf(envelope).hex()


def make_bundle(
    envelope: Mapping[str, Any],
    *,
    leaf_index: int,
    tree_size: int,
    path: Sequence[bytes],
    root: bytes,
    checkpoint: str,
) -> dict[str, Any]:
    """Assemble the bundle (does not verify; ``verify_bundle`` does)."""
    return {
        "checkpoint": checkpoint,
        "envelope": dict(envelope),
        "inclusion": {
            "leaf_index": leaf_index,
            "path": [b64encode(item) for item in path],
            "root": b64encode(root),
            "tree_size": tree_size,
        },
    }


def bundle_bytes(bundle: Mapping[str, Any]) -> bytes:
    """The bundle file's bytes: canonical JSON and a newline."""
    return canonical_json(bundle) + b"\n"


def load_bundle(data: bytes, source: str = "bundle") -> dict[str, Any]:
    """Parse a bundle file strictly (UTF-8, no duplicate keys); ``source`` names the file."""
    try:
        value = parse_json_strict(data)
    except (ValueError, RecursionError) as error:
        raise CertificateError(f"{source} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise CertificateError(f"{source} is not a JSON object")
    return value


def verify_bundle(
    bundle: Any,
    public_key: Ed25519PublicKey,
    *,
    key_name: str | None = None,
    origin: str | None = None,
) -> VerifiedCertificate:
    """Check everything in the module docstring; ``CertificateError`` on the first failure."""
    if not isinstance(bundle, Mapping) or set(bundle) != BUNDLE_FIELDS:
        raise CertificateError("bundle must be a JSON object with checkpoint, envelope, inclusion")
    envelope = bundle["envelope"]
    payload = verify_envelope(envelope, public_key, IN_TOTO_PAYLOAD_TYPE)
    statement = _statement(payload)
    predicate = check_statement(statement)
    index, size, path, root = _inclusion(bundle["inclusion"])
    checkpoint = verify_checkpoint(bundle["checkpoint"], public_key, key_name, origin)
    if checkpoint.size != size or checkpoint.root != root:
        raise CertificateError(
            "bundle inclusion tree_size/root differ from the signed checkpoint's"
        )
    leaf = envelope_leaf(envelope)
    verify_inclusion(leaf_hash(leaf), index, size, path, root)
    return VerifiedCertificate(
        statement=statement,
        predicate=predicate,
        envelope_sha256=leaf.hex(),
        key_fingerprint=key_fingerprint(public_key),
        leaf_index=index,
        tree_size=size,
        checkpoint=checkpoint,
    )


def _statement(payload: bytes) -> dict[str, Any]:
    try:
        statement = parse_json_strict(payload)
    except (ValueError, RecursionError) as error:
        raise CertificateError("certificate payload is not valid JSON") from error
    try:
        canonical = isinstance(statement, dict) and canonical_json(statement) == payload
    except (TypeError, ValueError):
        canonical = False
    if not canonical:
        raise CertificateError("certificate payload is not a canonical JSON object")
    return statement  # type: ignore[no-any-return]


def _inclusion(data: Any) -> tuple[int, int, list[bytes], bytes]:
    if not isinstance(data, Mapping) or set(data) != INCLUSION_FIELDS:
        raise CertificateError(
            "bundle inclusion must have exactly leaf_index, tree_size, path and root"
        )
    index, size, path = data["leaf_index"], data["tree_size"], data["path"]
    for name, value in (("leaf_index", index), ("tree_size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CertificateError(f"bundle inclusion.{name} is not a non-negative integer")
    if not isinstance(path, list):
        raise CertificateError("bundle inclusion.path is not a list")
    hashes = [b64decode(item, f"bundle inclusion.path[{n}]") for n, item in enumerate(path)]
    root = b64decode(data["root"], "bundle inclusion.root")
    return index, size, hashes, root
