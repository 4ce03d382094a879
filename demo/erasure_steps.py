"""The demo's erasure part: check the delivered certificate as the client would.

The client receives the bundle (JSON, authoritative) and a PDF. It checks the bundle
with our CLI and the hoster's public key, and again with nothing but openssl, using the
recipe of docs/certificates.md run as it is written there.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from retention_pipeline.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]


def certificate_checks(home: Path, run: Callable[..., int]) -> int:
    """Verify the delivered bundle with the CLI and with openssl; print the predicate."""
    folder = home / "certificates" / "cabinet-martin"
    bundle = next(folder.glob("*.bundle.json"))
    print(f"  delivered: {bundle.relative_to(home)} and {bundle.name[:-12]}.pdf")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        cli(["certificate", "pubkey", "--home", str(home)])
    pem = re.search(
        r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----\n", buffer.getvalue(), re.S
    )
    if pem is None:
        return 1
    (folder / "pub.pem").write_text(pem.group(0))
    code = run("certificate", "verify", str(bundle), "--pubkey", str(folder / "pub.pem"))
    recipe = _openssl_recipe()
    (folder / "bundle.json").write_text(bundle.read_text())
    done = subprocess.run(["bash", "-c", recipe], cwd=folder, capture_output=True, text=True)
    print(f"$ (docs/certificates.md recipe) openssl pkeyutl -verify ...\n{done.stdout.strip()}")
    payload = json.loads((folder / "payload.bin").read_bytes())
    print("certificate predicate (ids, digests and counts only):")
    print(json.dumps(payload["predicate"], indent=2)[:2500])
    return code or done.returncode


def _openssl_recipe() -> str:
    """The shell block of docs/certificates.md that ends with ``openssl pkeyutl``."""
    text = (ROOT / "docs" / "certificates.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        if "openssl pkeyutl -verify" in block:
            return str(block)
    raise RuntimeError("docs/certificates.md has no openssl recipe")
