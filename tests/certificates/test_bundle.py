"""A client's bundle verifies offline, and any change to any part of it is rejected."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.bundle import (
    bundle_bytes,
    envelope_leaf,
    load_bundle,
    verify_bundle,
)
from retention_pipeline.envelope.canonical import canonical_json
from retention_pipeline.envelope.checkpoint import sign_checkpoint
from retention_pipeline.envelope.dsse import CertificateError, pae, sign_envelope
from tests.certificates.support import KEY, ORIGIN, OTHER_KEY, log_bundle, predicate

PUBLIC = KEY.public_key()


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return log_bundle()


def rejected(bundle: Any) -> CertificateError:
    with pytest.raises(CertificateError) as caught:
        verify_bundle(bundle, PUBLIC)
    return caught.value


def flip_char(text: str, position: int) -> str:
    """Change one base64 character to another valid one (bit 0 of its value)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    char = text[position]
    if char == "=":
        return text[:position] + "A" + text[position + 1 :]
    replacement = alphabet[alphabet.index(char) ^ 1]
    return text[:position] + replacement + text[position + 1 :]


def resigned(bundle: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    """The bundle with ``statement`` properly signed (signature fine, content edited)."""
    edited = copy.deepcopy(bundle)
    edited["envelope"] = sign_envelope(
        canonical_json(statement), "application/vnd.in-toto+json", KEY
    )
    return edited


def statement_of(bundle: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(bundle["envelope"]["payload"]))  # type: ignore[no-any-return]


def test_round_trip_through_the_file(bundle: dict[str, Any]) -> None:
    data = bundle_bytes(bundle)
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    verified = verify_bundle(load_bundle(data), PUBLIC, key_name=ORIGIN, origin=ORIGIN)
    assert verified.predicate == predicate()
    assert verified.leaf_index == 3 and verified.tree_size == 6
    assert verified.checkpoint.size == 6 and verified.checkpoint.origin == ORIGIN
    assert verified.envelope_sha256 == envelope_leaf(bundle["envelope"]).hex()
    assert verified.statement["subject"][0]["name"] == "store:backups-eu"


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 2), (4, 5), (6, 7), (0, 9)])
def test_every_position_in_the_log_verifies(index: int, size: int) -> None:
    verify_bundle(log_bundle(index=index, size=size), PUBLIC)


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_every_flipped_character_of_payload_and_signature_is_rejected(
    bundle: dict[str, Any], field: str
) -> None:
    original = (
        bundle["envelope"][field]
        if field == "payload"
        else (bundle["envelope"]["signatures"][0]["sig"])
    )
    for position in range(len(original)):
        edited = copy.deepcopy(bundle)
        value = flip_char(original, position)
        if field == "payload":
            edited["envelope"]["payload"] = value
        else:
            edited["envelope"]["signatures"][0]["sig"] = value
        rejected(edited)


def test_every_flipped_byte_of_the_bundle_file_is_rejected(bundle: dict[str, Any]) -> None:
    data = bundle_bytes(bundle)
    for position in range(len(data) - 1):  # the final newline is not content
        edited = bytearray(data)
        edited[position] ^= 0x01
        with pytest.raises(CertificateError):
            verify_bundle(load_bundle(bytes(edited)), PUBLIC)


def test_an_edited_predicate_field_is_rejected_even_when_re_signed(
    bundle: dict[str, Any],
) -> None:
    statement = statement_of(bundle)
    statement["predicate"]["locations"][0]["objects"] = 1
    edited = copy.deepcopy(bundle)
    edited["envelope"]["payload"] = base64.b64encode(canonical_json(statement)).decode()
    assert "does not verify" in str(rejected(edited))
    # Signed again with the right key, the content is valid but no longer in the log.
    assert "inclusion proof" in str(rejected(resigned(bundle, statement)))


def test_an_unknown_predicate_field_is_rejected(bundle: dict[str, Any]) -> None:
    statement = statement_of(bundle)
    statement["predicate"]["display_name"] = "x"
    error = rejected(resigned(bundle, statement))
    assert "does not define" in str(error)


def test_a_swapped_payload_type_is_rejected(bundle: dict[str, Any]) -> None:
    edited = copy.deepcopy(bundle)
    edited["envelope"]["payloadType"] = "application/vnd.in-toto+jsoN"
    assert "payloadType" in str(rejected(edited))
    # Even re-signed under the other type, the verifier expects in-toto only.
    payload = base64.b64decode(bundle["envelope"]["payload"])
    edited["envelope"] = sign_envelope(payload, "application/json", KEY)
    rejected(edited)


def test_the_signature_covers_the_pae_not_the_bare_payload(bundle: dict[str, Any]) -> None:
    payload = base64.b64decode(bundle["envelope"]["payload"])
    signature = base64.b64decode(bundle["envelope"]["signatures"][0]["sig"])
    PUBLIC.verify(signature, pae("application/vnd.in-toto+json", payload))
    edited = copy.deepcopy(bundle)
    edited["envelope"]["signatures"][0]["sig"] = base64.b64encode(KEY.sign(payload)).decode()
    rejected(edited)


@pytest.mark.parametrize(
    ("field", "value"),
    [("leaf_index", 2), ("leaf_index", 4), ("tree_size", 7), ("tree_size", 5)],
)
def test_edited_index_or_size_is_rejected(bundle: dict[str, Any], field: str, value: int) -> None:
    edited = copy.deepcopy(bundle)
    edited["inclusion"][field] = value
    rejected(edited)


def test_edited_path_or_root_is_rejected(bundle: dict[str, Any]) -> None:
    path = bundle["inclusion"]["path"]
    for position in range(len(path)):
        edited = copy.deepcopy(bundle)
        edited["inclusion"]["path"][position] = flip_char(path[position], 5)
        rejected(edited)
    for edit in (path[:-1], [*path, path[0]], list(reversed(path))):
        edited = copy.deepcopy(bundle)
        edited["inclusion"]["path"] = edit
        rejected(edited)
    edited = copy.deepcopy(bundle)
    edited["inclusion"]["root"] = flip_char(bundle["inclusion"]["root"], 0)
    assert "checkpoint" in str(rejected(edited))


def test_a_root_and_checkpoint_for_another_tree_are_rejected(bundle: dict[str, Any]) -> None:
    """Root and checkpoint agree and are signed, but the leaf is not in that tree."""
    other_root = merkle.root([b"x"] * 6)
    edited = copy.deepcopy(bundle)
    edited["inclusion"]["root"] = base64.b64encode(other_root).decode()
    edited["checkpoint"] = sign_checkpoint(ORIGIN, 6, other_root, KEY)
    assert "inclusion proof" in str(rejected(edited))


def test_a_checkpoint_signed_by_another_key_is_rejected(bundle: dict[str, Any]) -> None:
    root = base64.b64decode(bundle["inclusion"]["root"])
    edited = copy.deepcopy(bundle)
    edited["checkpoint"] = sign_checkpoint(ORIGIN, 6, root, OTHER_KEY)
    assert "not signed by the given public key" in str(rejected(edited))


def test_an_edited_checkpoint_body_is_rejected(bundle: dict[str, Any]) -> None:
    text = bundle["checkpoint"]
    for old, new in ((ORIGIN, ORIGIN + "x"), ("\n6\n", "\n7\n")):
        edited = copy.deepcopy(bundle)
        edited["checkpoint"] = text.replace(old, new, 1)
        rejected(edited)


def test_a_certificate_signed_by_another_key_is_rejected() -> None:
    other = log_bundle(key=OTHER_KEY)
    assert "no signature by key" in str(rejected(other))


def test_missing_or_extra_bundle_fields_are_rejected(bundle: dict[str, Any]) -> None:
    for drop in ("envelope", "inclusion", "checkpoint"):
        rejected({k: v for k, v in bundle.items() if k != drop})
    rejected({**bundle, "note": "trust me"})
    rejected({**bundle, "inclusion": {**bundle["inclusion"], "leaf_hash": "AA=="}})
    rejected({**bundle, "inclusion": {**bundle["inclusion"], "leaf_index": True}})
    rejected([bundle])


def test_non_json_and_duplicate_keys_are_rejected() -> None:
    with pytest.raises(CertificateError, match="not valid JSON"):
        load_bundle(b'{"a":1,"a":2}')
    with pytest.raises(CertificateError, match="not valid JSON"):
        load_bundle(b"\xff")
    with pytest.raises(CertificateError, match="not a JSON object"):
        load_bundle(b"[]")


def test_error_messages_never_carry_payload_content(bundle: dict[str, Any]) -> None:
    statement = statement_of(bundle)
    statement["predicate"]["requester_id"] = "jane.doe@example.com"
    message = str(rejected(resigned(bundle, statement)))
    assert "jane" not in message and "example.com" not in message
    assert "requester_id" in message
