"""Interoperability with Debian's ``age`` CLI: a client must be able to open its own backup.

Outside CI the tests skip when ``age`` is absent; under CI=true that is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from retention_pipeline.envelope.age import (
    Identity,
    IntegrityError,
    Recipient,
    encrypt_stream,
    generate_identity,
)
from retention_pipeline.envelope.age_format import CHUNK_SIZE
from tests.envelope.age_support import ALICE, BOB, decrypt, encrypt, pattern
from tests.envelope.test_age_vectors import OWN_PLAINTEXT, OWN_SECRETS
from tests.support.services import in_ci

AGE = shutil.which("age") or ""
AGE_KEYGEN = shutil.which("age-keygen") or ""


@pytest.fixture(autouse=True)
def _require_age_cli() -> None:
    if AGE and AGE_KEYGEN:
        return
    message = "the age CLI is not installed; install it with: apt-get install age"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def _key_file(tmp_path: Path, identity: Identity, name: str) -> Path:
    path = tmp_path / name
    path.write_text(f"# test key\n{identity.to_string()}\n")
    path.chmod(0o600)
    return path


def _age(*args: str | Path, stdin: bytes = b"") -> bytes:
    done = subprocess.run([AGE, *map(str, args)], input=stdin, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * 1024 * 1024 + 7])
def test_age_cli_decrypts_what_we_encrypt_for_every_recipient(tmp_path: Path, size: int) -> None:
    data = pattern(size)
    ciphertext = tmp_path / "point.age"
    ciphertext.write_bytes(encrypt(data, [ALICE.recipient, BOB.recipient]))
    for identity, name in ((ALICE, "alice.key"), (BOB, "bob.key")):
        key = _key_file(tmp_path, identity, name)
        assert _age("-d", "-i", key, ciphertext) == data


def test_age_cli_decrypts_our_deterministic_vector(tmp_path: Path) -> None:
    ciphertext = b"".join(
        encrypt_stream([ALICE.recipient, BOB.recipient], OWN_PLAINTEXT, secrets=OWN_SECRETS)
    )
    key = _key_file(tmp_path, BOB, "bob.key")
    assert _age("-d", "-i", key, stdin=ciphertext) == OWN_PLAINTEXT


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 2 * CHUNK_SIZE + 3])
def test_we_decrypt_what_age_cli_encrypts(size: int) -> None:
    data = pattern(size)
    ciphertext = _age("-r", ALICE.recipient.to_string(), stdin=data)
    assert decrypt(ciphertext, [ALICE]) == data


def test_we_decrypt_age_cli_output_with_several_recipients_and_identity_file(
    tmp_path: Path,
) -> None:
    data = pattern(200_000)
    key = _key_file(tmp_path, CAROL_ID, "carol.key")
    ciphertext = _age(
        "-e",
        "-i",
        key,
        "-r",
        ALICE.recipient.to_string(),
        "-r",
        BOB.recipient.to_string(),
        stdin=data,
    )
    for identity in (ALICE, BOB, CAROL_ID):
        assert decrypt(ciphertext, [identity]) == data
    with pytest.raises(IntegrityError, match="no identity matches"):
        decrypt(ciphertext, [generate_identity()])


CAROL_ID = Identity(bytes([3]) * 32)


def test_we_skip_ssh_stanzas_written_by_age_cli(tmp_path: Path) -> None:
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        pytest.skip("ssh-keygen is not installed; an ssh stanza cannot be produced")
    subprocess.run(
        [ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "ssh")], check=True
    )
    ssh_recipient = (tmp_path / "ssh.pub").read_text().strip()
    data = pattern(70_000)
    ciphertext = _age("-r", ssh_recipient, "-r", ALICE.recipient.to_string(), stdin=data)
    assert b"-> ssh-ed25519 " in ciphertext
    assert decrypt(ciphertext, [ALICE]) == data


def test_keys_agree_with_age_keygen(tmp_path: Path) -> None:
    key_file = tmp_path / "generated.key"
    subprocess.run([AGE_KEYGEN, "-o", str(key_file)], capture_output=True, check=True)
    secret_line = next(
        line for line in key_file.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-1")
    )
    identity = Identity.from_string(secret_line)
    public = subprocess.run(
        [AGE_KEYGEN, "-y", str(key_file)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    assert identity.recipient == Recipient.from_string(public)
    assert identity.to_string() == secret_line
    ours = generate_identity()
    ours_file = _key_file(tmp_path, ours, "ours.key")
    derived = subprocess.run(
        [AGE_KEYGEN, "-y", str(ours_file)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    assert derived == ours.recipient.to_string()


def test_armored_age_output_is_refused_with_a_clear_message() -> None:
    ciphertext = _age("-a", "-r", ALICE.recipient.to_string(), stdin=b"hello")
    with pytest.raises(IntegrityError, match="armored"):
        decrypt(ciphertext, [ALICE])
