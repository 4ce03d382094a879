"""RFC 9162 hashing and proofs, checked against a brute-force reference for every small tree.

The reference never uses the module's proofs: it recomputes every subtree hash of the
tree from the leaves, so an inclusion path is "the sibling of each ancestor" and a
consistency proof is accepted when the old root is rebuilt from the new tree's nodes.
"""

from __future__ import annotations

import hashlib

import pytest

from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.dsse import CertificateError

MAX = 64
LEAVES = [f"certificate {n}".encode() for n in range(MAX)]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 2.1.1, by slicing."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = reference_root(leaves[:k]), reference_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH by slicing."""
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return [*reference_path(index, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(index - k, leaves[k:]), reference_root(leaves[:k])]


def reference_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF by slicing."""
    if m == len(leaves):
        return [] if complete else [reference_root(leaves)]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m <= k:
        return [*reference_subproof(m, leaves[:k], complete), reference_root(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_root(leaves[:k])]


def flipped(proof: list[bytes], position: int) -> list[bytes]:
    edited = list(proof)
    edited[position] = bytes([edited[position][0] ^ 1]) + edited[position][1:]
    return edited


def test_known_answer_for_empty_and_single_leaf_trees() -> None:
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.root([b""]) == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_inclusion_for_every_index_of_every_size(size: int) -> None:
    leaves = LEAVES[:size]
    root = merkle.root(leaves)
    assert root == reference_root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert proof == reference_path(index, leaves)
        leaf = merkle.leaf_hash(leaves[index])
        merkle.verify_inclusion(leaf, index, size, proof, root)
        for position in range(len(proof)):
            with pytest.raises(CertificateError):
                merkle.verify_inclusion(leaf, index, size, flipped(proof, position), root)
        for other in (index - 1, index + 1, size):
            if 0 <= other != index:
                with pytest.raises(CertificateError):
                    merkle.verify_inclusion(leaf, other, size, proof, root)
        # (A wrong tree size can still rebuild the same root for some indexes: the size
        # is authenticated by the signed checkpoint, see test_bundle.)
        with pytest.raises(CertificateError):
            merkle.verify_inclusion(leaf, index, size, [*proof, root], root)
        if proof:
            with pytest.raises(CertificateError):
                merkle.verify_inclusion(leaf, index, size, proof[:-1], root)


@pytest.mark.parametrize("new_size", range(1, MAX + 1))
def test_consistency_for_every_pair_of_sizes(new_size: int) -> None:
    new_root = merkle.root(LEAVES[:new_size])
    for old_size in range(1, new_size + 1):
        old_root = reference_root(LEAVES[:old_size])
        proof = merkle.consistency_proof(old_size, new_size, LEAVES)
        expected = (
            [] if old_size == new_size else reference_subproof(old_size, LEAVES[:new_size], True)
        )
        assert proof == expected
        merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
        for position in range(len(proof)):
            with pytest.raises(CertificateError):
                merkle.verify_consistency(
                    old_size, new_size, old_root, new_root, flipped(proof, position)
                )
        if old_size < new_size:
            wrong_old = reference_root(LEAVES[1 : old_size + 1])
            with pytest.raises(CertificateError):
                merkle.verify_consistency(old_size, new_size, wrong_old, new_root, proof)
            with pytest.raises(CertificateError):
                merkle.verify_consistency(old_size, new_size, old_root, old_root, proof)
            with pytest.raises(CertificateError):
                merkle.verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
            if old_size > 1:
                with pytest.raises(CertificateError):
                    merkle.verify_consistency(old_size - 1, new_size, old_root, new_root, proof)


def test_a_rewritten_history_is_not_consistent() -> None:
    rewritten = [*LEAVES[:5], b"forged", *LEAVES[6:20]]
    proof = merkle.consistency_proof(10, 20, rewritten)
    with pytest.raises(CertificateError, match="rewritten"):
        merkle.verify_consistency(10, 20, merkle.root(LEAVES[:10]), merkle.root(rewritten), proof)


def test_empty_old_tree_and_equal_sizes_need_an_empty_proof() -> None:
    root = merkle.root(LEAVES[:8])
    assert merkle.consistency_proof(0, 8, LEAVES) == []
    merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root, [])
    merkle.verify_consistency(8, 8, root, root, [])
    with pytest.raises(CertificateError):
        merkle.verify_consistency(8, 8, root, merkle.root(LEAVES[:9]), [])
    with pytest.raises(CertificateError):
        merkle.verify_consistency(8, 8, root, root, [root])
    with pytest.raises(CertificateError):
        merkle.verify_consistency(9, 8, root, root, [root])


def test_malformed_hashes_and_arguments_are_refused() -> None:
    root = merkle.root(LEAVES[:4])
    leaf = merkle.leaf_hash(LEAVES[0])
    proof = merkle.inclusion_proof(0, LEAVES[:4])
    with pytest.raises(CertificateError, match="32 bytes"):
        merkle.verify_inclusion(leaf, 0, 4, [proof[0][:31], proof[1]], root)
    with pytest.raises(CertificateError, match="outside"):
        merkle.verify_inclusion(leaf, 0, 0, [], root)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(4, LEAVES[:4])
    with pytest.raises(ValueError, match="old size"):
        merkle.consistency_proof(5, 4, LEAVES[:4])


def test_two_empty_trees_must_both_have_the_empty_root() -> None:
    """Trees of one size are one tree: size 0 and 0 with another new root is a rewrite."""
    merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    with pytest.raises(CertificateError, match="disagree"):
        merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, b"\x00" * 32, [])
