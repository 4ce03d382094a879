"""Checkpoints are C2SP signed notes that other signed-note tools would accept."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from retention_pipeline.envelope.checkpoint import (
    note_key_id,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)
from retention_pipeline.envelope.dsse import CertificateError
from tests.certificates.support import KEY, ORIGIN, OTHER_KEY

ROOT = hashlib.sha256(b"root").digest()
PUBLIC = KEY.public_key()
RAW = PUBLIC.public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_layout_is_byte_exact() -> None:
    text = sign_checkpoint(ORIGIN, 42, ROOT, KEY)
    body = f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert text.startswith(body + "\n\u2014 " + ORIGIN + " ")
    assert text.endswith("\n") and text.count("\n") == 5
    blob = base64.b64decode(text.splitlines()[-1].split(" ")[2])
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + RAW).digest()[:4]
    assert blob[:4] == key_id == note_key_id(ORIGIN, PUBLIC)
    PUBLIC.verify(blob[4:], body.encode())


def test_round_trip_and_verifier_key() -> None:
    checkpoint = verify_checkpoint(sign_checkpoint(ORIGIN, 7, ROOT, KEY), PUBLIC, ORIGIN)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 7, ROOT)
    name, key_id, key = verifier_key(ORIGIN, PUBLIC).split("+", 2)
    assert name == ORIGIN and bytes.fromhex(key_id) == note_key_id(ORIGIN, PUBLIC)
    assert base64.b64decode(key) == b"\x01" + RAW
    empty = verify_checkpoint(sign_checkpoint(ORIGIN, 0, ROOT, KEY, "log-key"), PUBLIC)
    assert empty.size == 0 and empty.key_name == "log-key"


def test_unknown_signers_are_ignored_and_cosignatures_allowed() -> None:
    ours = sign_checkpoint(ORIGIN, 7, ROOT, KEY)
    theirs = sign_checkpoint(ORIGIN, 7, ROOT, OTHER_KEY, "witness.example")
    both = ours + theirs.splitlines(keepends=True)[-1]
    verify_checkpoint(both, PUBLIC, ORIGIN)
    verify_checkpoint(both, OTHER_KEY.public_key(), "witness.example")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n7\n", "\n8\n"),
        ("\n7\n", "\n07\n"),
        (ORIGIN + "\n", ORIGIN + "2\n"),
        ("\n\n\u2014", "\n\u2014"),
        ("\u2014 ", "-- "),
        ("\u2014 ", "\u2014  "),
    ],
)
def test_edits_are_rejected(old: str, new: str) -> None:
    text = sign_checkpoint(ORIGIN, 7, ROOT, KEY)
    with pytest.raises(CertificateError):
        verify_checkpoint(text.replace(old, new, 1), PUBLIC, ORIGIN)


def test_every_flipped_byte_is_rejected() -> None:
    data = sign_checkpoint(ORIGIN, 7, ROOT, KEY).encode()
    for position in range(len(data)):
        edited = bytearray(data)
        edited[position] ^= 0x01
        try:
            text = edited.decode()
        except UnicodeDecodeError:
            continue  # not a text any more: refused before parsing
        with pytest.raises(CertificateError):
            verify_checkpoint(text, PUBLIC, ORIGIN)


def test_wrong_key_name_origin_or_extension_lines_are_rejected() -> None:
    text = sign_checkpoint(ORIGIN, 7, ROOT, KEY)
    with pytest.raises(CertificateError, match="not signed"):
        verify_checkpoint(text, PUBLIC, "other-name")
    with pytest.raises(CertificateError, match="not signed"):
        verify_checkpoint(text, OTHER_KEY.public_key(), ORIGIN)
    with pytest.raises(CertificateError, match="for log"):
        verify_checkpoint(text, PUBLIC, ORIGIN, origin="other.example/log")
    body = f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode()}\nextension\n"
    blob = base64.b64encode(note_key_id(ORIGIN, PUBLIC) + KEY.sign(body.encode())).decode()
    with pytest.raises(CertificateError, match="exactly 3 lines"):
        verify_checkpoint(f"{body}\n\u2014 {ORIGIN} {blob}\n", PUBLIC, ORIGIN)


def test_bad_arguments_are_refused_when_signing() -> None:
    with pytest.raises(ValueError, match="key name"):
        sign_checkpoint(ORIGIN, 7, ROOT, KEY, "has space")
    with pytest.raises(ValueError, match="origin"):
        sign_checkpoint("two\nlines", 7, ROOT, KEY, "name")
    with pytest.raises(ValueError, match="root"):
        sign_checkpoint(ORIGIN, 7, ROOT[:31], KEY)
    with pytest.raises(ValueError, match="size"):
        sign_checkpoint(ORIGIN, -1, ROOT, KEY)
