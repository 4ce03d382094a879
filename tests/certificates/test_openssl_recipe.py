"""docs/certificates.md's offline recipe works: the test runs the documented commands verbatim.

The commands are read from the doc's fenced blocks (after their ``<!-- recipe: ... -->``
markers), so the doc and this test cannot drift apart.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retention_pipeline.envelope.bundle import bundle_bytes, public_key_pem
from retention_pipeline.envelope.dsse import key_fingerprint
from tests.certificates.support import KEY, OTHER_KEY, log_bundle

DOC = Path(__file__).resolve().parents[2] / "docs" / "certificates.md"
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is absent")


def recipe(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- recipe: {name} -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert match, f"docs/certificates.md has no recipe block {name!r}"
    return match.group(1)


def run(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, capture_output=True, text=True, check=False
    )


def prepare(folder: Path, bundle: dict[str, Any], key: Any = KEY) -> Path:
    folder.mkdir()
    (folder / "bundle.json").write_bytes(bundle_bytes(bundle))
    (folder / "pub.pem").write_text(public_key_pem(key), encoding="ascii")
    return folder


def test_recipe_verifies_a_genuine_bundle(tmp_path: Path) -> None:
    folder = prepare(tmp_path / "ok", log_bundle())
    result = run(recipe("openssl-verify"), folder)
    assert result.returncode == 0, result.stderr
    assert "Signature Verified Successfully" in result.stdout
    assert b'"_type":"https://in-toto.io/Statement/v1"' in (folder / "payload.bin").read_bytes()


def test_recipe_fails_on_a_flipped_payload_byte(tmp_path: Path) -> None:
    bundle = log_bundle()
    payload = bytearray(base64.b64decode(bundle["envelope"]["payload"]))
    payload[100] ^= 0x01
    bundle["envelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    result = run(recipe("openssl-verify"), prepare(tmp_path / "flipped", bundle))
    assert result.returncode != 0
    assert "Signature Verified Successfully" not in result.stdout


def test_recipe_fails_with_another_public_key(tmp_path: Path) -> None:
    folder = prepare(tmp_path / "other", log_bundle(), key=OTHER_KEY)
    result = run(recipe("openssl-verify"), folder)
    assert result.returncode != 0
    assert "Signature Verified Successfully" not in result.stdout


def test_fingerprint_recipe_prints_the_keyid(tmp_path: Path) -> None:
    bundle = log_bundle()
    result = run(recipe("fingerprint"), prepare(tmp_path / "fp", bundle))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key_fingerprint(KEY.public_key())
    assert result.stdout.strip() == bundle["envelope"]["signatures"][0]["keyid"]
