"""Two processes that create the certificate key at the same moment end with one key.

Found by two erasures started together: one read the other's key file half-written.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from retention_pipeline.envelope.signing_key import load_signing_key
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    key = load_signing_key(Path(sys.argv[1]), create=True)
    print(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
    """
)


def test_concurrent_creators_all_get_the_one_key_written(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "certificates.ed25519"
    start = str(time.time() + 2)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(path), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [worker.communicate(timeout=60) for worker in workers]

    assert [w.returncode for w in workers] == [0] * 8, [err for _, err in results]
    assert len({out.strip() for out, _ in results}) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
