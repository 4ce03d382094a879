"""``certificate pubkey > key.pem`` gives a file openssl reads, as a client would do it.

stdout carries the PEM and nothing else; the fingerprint, for people, goes to stderr.
The command runs as its own process with a shell redirect, and the real ``openssl``
binary reads the file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from retention_pipeline import bootstrap
from retention_pipeline.envelope.signing_key import signing_key_fingerprint
from tests.support.home import init_home


def test_pubkey_redirected_to_a_file_is_a_pem_openssl_accepts(tmp_home: Path) -> None:
    home = init_home(tmp_home)
    key = bootstrap.load_installation(home).signing_key(create=True)
    pem = home / "key.pem"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = f'"{sys.executable}" -m retention_pipeline certificate pubkey --home "{home}"'
    run = subprocess.run(
        ["bash", "-c", f'{command} > "{pem}"'], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr

    text = pem.read_text(encoding="ascii")
    assert text.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert text.endswith("-----END PUBLIC KEY-----\n")
    fingerprint = signing_key_fingerprint(key.public_key())
    assert run.stderr.strip() == f"fingerprint: {fingerprint}"

    check = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(pem), "-noout"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    # and it is this installation's key: the last 32 bytes of the DER are the raw key
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(pem), "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert hashlib.sha256(der[-32:]).hexdigest() == fingerprint
