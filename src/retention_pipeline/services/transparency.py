"""The certificate log: every certificate envelope is a leaf of one append-only Merkle tree.

Why: a client holding its bundle can check offline that its certificate is in the log
(inclusion proof + signed checkpoint), and an auditor holding an old checkpoint can check
that no certificate was removed or rewritten since (consistency proof). Rules:

* leaf ``i`` is the SHA-256 of the ``i``-th certificate envelope (``envelope_leaf``); the
  catalog assigns indexes densely under the evidence lock, so the tree is the list of
  leaves in index order;
* a certificate's bundle proves inclusion in the tree of size ``leaf_index + 1`` (the
  tree right after it was appended), with a checkpoint signed for that size: the bundle
  never changes afterwards, and later checkpoints extend it (consistency);
* checkpoints are signed by the certificate key under the log's ``origin``, a stable name
  of the installation that holds no host name.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.bundle import envelope_sha256, make_bundle
from retention_pipeline.envelope.canonical import parse_json_strict
from retention_pipeline.envelope.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from retention_pipeline.envelope.dsse import CertificateError, b64decode
from retention_pipeline.errors import ConfigError
from retention_pipeline.ports.catalog import Catalog, Certificate, CertificateStatus, NewCertificate


@dataclass(frozen=True)
class LoggedCertificate:
    """A certificate appended to the log, with the bundle the client receives."""

    certificate: Certificate
    bundle: dict[str, Any]


@dataclass
class CertificateLog:
    """Append certificates, sign checkpoints, prove inclusion and consistency."""

    catalog: Catalog
    signing_key: Callable[[], Ed25519PrivateKey]
    origin: str

    def append(
        self,
        envelope: Mapping[str, Any],
        *,
        certificate_id: str,
        client_id: str,
        status: CertificateStatus,
        issued_at: datetime,
        erasure_request_id: str | None = None,
        supersedes: str | None = None,
    ) -> LoggedCertificate:
        """Log ``envelope`` as the next leaf, then store and return its bundle."""
        logged = self.catalog.append_certificate(
            NewCertificate(
                id=certificate_id,
                client_id=client_id,
                status=status,
                issued_at=issued_at,
                envelope_sha256=envelope_sha256(envelope),
                bundle={"envelope": dict(envelope)},
                erasure_request_id=erasure_request_id,
                supersedes=supersedes,
            )
        )
        bundle = self.bundle_for(logged)
        stored = self.catalog.set_certificate_bundle(logged.id, bundle)
        return LoggedCertificate(stored, bundle)

    def bundle_for(self, certificate: Certificate) -> dict[str, Any]:
        """The bundle of a logged certificate: inclusion in the tree it was appended to."""
        if certificate.leaf_index is None:
            raise ConfigError(f"certificate {certificate.id!r} is not in the certificate log")
        size = certificate.leaf_index + 1
        leaves = self._leaves(size)
        root = merkle.root(leaves)
        return make_bundle(
            certificate.bundle["envelope"],
            leaf_index=certificate.leaf_index,
            tree_size=size,
            path=merkle.inclusion_proof(certificate.leaf_index, leaves),
            root=root,
            checkpoint=sign_checkpoint(self.origin, size, root, self.signing_key()),
        )

    def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint of the tree of ``size`` leaves (default: all of them)."""
        leaves = self._leaves(size)
        if size is not None and len(leaves) != size:
            raise ConfigError(f"the certificate log has {len(leaves)} leaves, not {size}")
        return sign_checkpoint(self.origin, len(leaves), merkle.root(leaves), self.signing_key())

    def consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        """An RFC 9162 proof that the tree of ``old_size`` is a prefix of ``new_size``'s."""
        leaves = self._leaves(new_size)
        if not 0 <= old_size <= new_size == len(leaves):
            raise ConfigError(
                f"log consistency needs 0 <= OLD_SIZE <= NEW_SIZE <= {len(self._leaves())} "
                f"(the log's size); got {old_size} and {new_size}"
            )
        proof = merkle.consistency_proof(old_size, new_size, leaves)
        return {
            "new_size": new_size,
            "old_size": old_size,
            "proof": [base64.b64encode(item).decode("ascii") for item in proof],
        }

    def _leaves(self, size: int | None = None) -> list[bytes]:
        return [bytes.fromhex(item) for item in self.catalog.certificate_leaves(size)]


def verify_consistency(
    old_checkpoint: str,
    new_checkpoint: str,
    proof: bytes,
    public_key: Ed25519PublicKey,
) -> tuple[Checkpoint, Checkpoint]:
    """Check offline that the new checkpoint's tree extends the old one's.

    Both checkpoints must be signed by ``public_key`` for the same origin, and ``proof``
    (the JSON ``log consistency`` prints) must be for their two sizes.
    """
    old = verify_checkpoint(old_checkpoint, public_key)
    new = verify_checkpoint(new_checkpoint, public_key)
    if old.origin != new.origin:
        raise CertificateError(
            f"the checkpoints are of two logs ({old.origin!r} and {new.origin!r})"
        )
    try:
        data = parse_json_strict(proof)
    except (ValueError, RecursionError) as error:
        raise CertificateError("the consistency proof is not valid JSON") from error
    if not isinstance(data, dict) or set(data) != {"new_size", "old_size", "proof"}:
        raise CertificateError("the consistency proof must have old_size, new_size and proof")
    if (data["old_size"], data["new_size"]) != (old.size, new.size):
        raise CertificateError(
            f"the proof is for sizes {data['old_size']} -> {data['new_size']}, the "
            f"checkpoints are for {old.size} -> {new.size}"
        )
    if not isinstance(data["proof"], list):
        raise CertificateError("the consistency proof's proof is not a list")
    path = [b64decode(item, f"proof[{n}]") for n, item in enumerate(data["proof"])]
    merkle.verify_consistency(old.size, new.size, old.root, new.root, path)
    return old, new
