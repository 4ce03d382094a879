"""Certificate bundle, checkpoint, inclusion and consistency proofs: ``CertificateError`` only,
and no edited bundle, checkpoint or proof ever verifies."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.bundle import bundle_bytes, load_bundle, verify_bundle
from retention_pipeline.envelope.checkpoint import sign_checkpoint, verify_checkpoint
from retention_pipeline.envelope.dsse import CertificateError
from retention_pipeline.envelope.signing_key import load_public_key_pem
from retention_pipeline.services.transparency import verify_consistency
from tests.certificates.support import KEY, ORIGIN, log_bundle
from tests.fuzz.support import FUZZ, json_values, mutated

PUBLIC = KEY.public_key()
BUNDLE = bundle_bytes(log_bundle())
LEAVES = [bytes([n]) * 32 for n in range(11)]
OLD_SIZE, NEW_SIZE = 6, 11
OLD = sign_checkpoint(ORIGIN, OLD_SIZE, merkle.root(LEAVES[:OLD_SIZE]), KEY)
NEW = sign_checkpoint(ORIGIN, NEW_SIZE, merkle.root(LEAVES), KEY)
PROOF = json.dumps(
    {
        "new_size": NEW_SIZE,
        "old_size": OLD_SIZE,
        "proof": [
            base64.b64encode(h).decode()
            for h in merkle.consistency_proof(OLD_SIZE, NEW_SIZE, LEAVES)
        ],
    }
).encode()


def refused(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except CertificateError:
        return True
    return False


def bundle_of(data: bytes) -> None:
    verify_bundle(load_bundle(data), PUBLIC)


def test_the_valid_objects_verify() -> None:
    bundle_of(BUNDLE)
    verify_checkpoint(OLD, PUBLIC)
    verify_consistency(OLD, NEW, PROOF, PUBLIC)


def same_json(data: bytes, original: bytes) -> bool:
    """Whether ``data`` is ``original`` with only JSON spacing changed (not tampering)."""
    try:
        return bool(json.loads(data) == json.loads(original))
    except ValueError:
        return False


@FUZZ
@given(mutated(BUNDLE))
def test_a_mutated_bundle_file_never_verifies(data: bytes) -> None:
    assert refused(bundle_of, data) or same_json(data, BUNDLE)


@FUZZ
@given(st.one_of(st.binary(max_size=512), json_values.map(lambda v: json.dumps(v).encode())))
def test_random_bundle_files_are_a_certificate_error(data: bytes) -> None:
    assert refused(bundle_of, data)


@FUZZ
@given(
    st.sampled_from(["checkpoint", "envelope", "inclusion"]),
    st.sampled_from(["", "payload", "payloadType", "signatures", "leaf_index", "path", "root"]),
    json_values,
)
def test_any_json_in_any_bundle_field_never_verifies(part: str, field: str, value: Any) -> None:
    bundle = json.loads(BUNDLE)
    if field and isinstance(bundle[part], dict) and field in bundle[part]:
        bundle[part][field] = value
    else:
        bundle[part] = value
    assert refused(verify_bundle, bundle, PUBLIC)


@FUZZ
@given(st.one_of(mutated(OLD.encode()), st.binary(max_size=300)))
def test_a_mutated_or_random_checkpoint_never_verifies(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    assert refused(verify_checkpoint, text, PUBLIC)


@FUZZ
@given(
    st.sampled_from(["old", "new", "proof"]),
    st.data(),
)
def test_an_edited_consistency_proof_or_checkpoint_never_verifies(part: str, data: Any) -> None:
    old, new, proof = OLD, NEW, PROOF
    if part == "old":
        old = data.draw(mutated(OLD.encode())).decode("utf-8", "surrogateescape")
    elif part == "new":
        new = data.draw(mutated(NEW.encode())).decode("utf-8", "surrogateescape")
    else:
        proof = data.draw(mutated(PROOF))
    # the proof is not signed: spacing may change, its hashes and sizes may not
    assert refused(verify_consistency, old, new, proof, PUBLIC) or same_json(proof, PROOF)


@FUZZ
@given(json_values)
def test_any_json_as_a_consistency_proof_is_a_certificate_error(value: Any) -> None:
    assert refused(verify_consistency, OLD, NEW, json.dumps(value).encode(), PUBLIC)


@FUZZ
@given(
    st.integers(-2, 40),
    st.integers(-2, 40),
    st.lists(st.binary(min_size=31, max_size=33), max_size=8),
    st.binary(min_size=32, max_size=32),
)
def test_random_merkle_proofs_are_a_certificate_error(
    old_size: int, new_size: int, proof: list[bytes], root: bytes
) -> None:
    """A random proof cannot lead to the real roots: refused, whatever its shape.

    (Found by this test: two trees of size 0 with different roots were consistent.)
    """
    old_root = merkle.root(LEAVES[: max(old_size, 0)])
    # the one true case: the empty tree is a prefix of any tree, with an empty proof
    assume(not (old_size == 0 < new_size and not proof))
    assert refused(merkle.verify_consistency, old_size, new_size, old_root, root, proof)
    leaf = merkle.leaf_hash(LEAVES[0])
    assert refused(merkle.verify_inclusion, leaf, old_size, new_size, proof, root)


@FUZZ
@given(st.binary(max_size=400))
def test_random_public_key_files_are_a_certificate_error(data: bytes) -> None:
    assert refused(load_public_key_pem, data)
