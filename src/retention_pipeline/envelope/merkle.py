"""The Merkle tree over certificates: RFC 9162 (Certificate Transparency 2.0) section 2.1.

Why a tree and not only the evidence log's hash chain: a client holding one certificate
can check, with a proof of about log2(n) hashes and no access to our catalog, that its
certificate is in the log every other client sees (inclusion), and anyone holding an old
checkpoint can check that the log only grew since (consistency). Hashing, from the RFC:

* leaf hash ``MTH({d}) = SHA-256(0x00 || d)``;
* interior node ``SHA-256(0x01 || left || right)``, splitting ``n`` leaves at ``k``, the
  largest power of two smaller than ``n``; the empty tree's hash is ``SHA-256("")``.

The 0x00 / 0x01 prefixes keep a leaf from ever being read as a node (second preimage).
Proof *generation* follows the RFC's recursive definitions (``PATH``, ``SUBPROOF``);
proof *verification* is the RFC's iterative algorithms (2.1.3.2 and 2.1.4.2) line by line,
so the two sides are independent and tested against each other. ``leaves`` are the data
entries ``d(i)`` (for certificates: the 32-byte SHA-256 of the envelope, see ``bundle``).
Failed verifications raise ``CertificateError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from retention_pipeline.envelope.dsse import CertificateError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of all ``leaves`` (``EMPTY_ROOT`` for none)."""
    return _subtree(_hashes(leaves), 0, len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path ``PATH(index, D[n])`` for leaf ``index`` of the tree of ``leaves``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    hashes = _hashes(leaves)
    return _path(hashes, index, 0, len(hashes))


def consistency_proof(old_size: int, new_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """``PROOF(old_size, D[new_size])``: the tree of ``old_size`` is a prefix of the new one.

    Empty when ``old_size`` is 0 or equals ``new_size`` (nothing to prove).
    """
    if not 0 <= old_size <= new_size <= len(leaves):
        raise ValueError(
            f"consistency needs 0 <= old size ({old_size}) <= new size ({new_size}) "
            f"<= number of leaves ({len(leaves)})"
        )
    if old_size in (0, new_size):
        return []
    return _subproof(_hashes(leaves[:new_size]), old_size, 0, new_size, True)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 2.1.3.2: ``leaf`` (a leaf *hash*) sits at ``index`` under ``root_hash``."""
    _check_hashes([leaf, root_hash, *proof], "inclusion proof")
    if not 0 <= index < size:
        raise CertificateError(
            f"inclusion proof: leaf index {index} is outside a tree of size {size}"
        )
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise CertificateError("inclusion proof: the path is longer than the tree is tall")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise CertificateError("inclusion proof: the path is shorter than the tree is tall")
    if r != root_hash:
        raise CertificateError("inclusion proof: the path does not lead to the tree's root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: check that the tree ``old_root`` is a prefix of ``new_root``."""
    _check_hashes([old_root, new_root, *proof], "consistency proof")
    if not 0 <= old_size <= new_size:
        raise CertificateError(
            f"consistency proof: old size {old_size} is not between 0 and new size {new_size}"
        )
    if old_size == new_size or old_size == 0:
        # the empty tree is a prefix of every tree; two trees of one size are one tree
        # (two empty trees included: both roots must then be the empty tree's)
        expected = new_root if old_size else EMPTY_ROOT
        same_size_differs = old_size == new_size and new_root != old_root
        if proof or old_root != expected or same_size_differs:
            raise CertificateError(
                f"consistency proof: trees of size {old_size} and {new_size} disagree"
            )
        return
    if not proof:
        raise CertificateError("consistency proof: the proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise CertificateError("consistency proof: the proof has too many hashes")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise CertificateError(
            f"consistency proof: the tree of size {new_size} does not extend the tree of "
            f"size {old_size}; the log was rewritten"
        )


def _hashes(leaves: Sequence[bytes]) -> list[bytes]:
    return [leaf_hash(leaf) for leaf in leaves]


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(hashes: list[bytes], lo: int, hi: int) -> bytes:
    if hi == lo:
        return EMPTY_ROOT
    if hi - lo == 1:
        return hashes[lo]
    k = _split(hi - lo)
    return node_hash(_subtree(hashes, lo, lo + k), _subtree(hashes, lo + k, hi))


def _path(hashes: list[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if m < k:
        return [*_path(hashes, m, lo, lo + k), _subtree(hashes, lo + k, hi)]
    return [*_path(hashes, m - k, lo + k, hi), _subtree(hashes, lo, lo + k)]


def _subproof(hashes: list[bytes], m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
    if m == hi - lo:
        return [] if complete else [_subtree(hashes, lo, hi)]
    k = _split(hi - lo)
    if m <= k:
        return [*_subproof(hashes, m, lo, lo + k, complete), _subtree(hashes, lo + k, hi)]
    return [*_subproof(hashes, m - k, lo + k, hi, False), _subtree(hashes, lo, lo + k)]


def _check_hashes(values: Sequence[object], what: str) -> None:
    for value in values:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise CertificateError(f"{what}: every hash must be {HASH_SIZE} bytes")
