"""A home folder driven through the real CLI, with real buckets on moto's HTTP server.

Shared by the test suites that need a whole installation (backup, erasure): each builds
its own home (stores, connections, policies) on these pieces, so that "run a command as
an operator does" and "configure key custody against moto" mean the same everywhere.

* ``CliHome.cli`` runs ``retention-pipeline ARGS --home HOME`` through the CLI's ``main``
  in-process, so a test sees exactly what an operator sees: exit code, stdout, stderr.
* ``versioned_bucket`` makes a fresh bucket per home (moto lives for the whole session).
* ``write_settings`` writes ``retention.yaml`` with a SQLite catalog, the chosen key
  custody (``local``, or ``aws-kms`` on moto's KMS with a fresh alias prefix), a ``folder``
  store and whatever other stores and sections the suite adds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from retention_pipeline import bootstrap
from retention_pipeline.cli.main import main
from tests.support.moto import MotoEndpoint

FOLDER_STORE = {"url": "file://stores/backups", "location": "local-eu"}


@dataclass(frozen=True)
class Run:
    """One CLI invocation as the operator saw it."""

    rc: int
    out: str
    err: str


@dataclass
class CliHome:
    """A home folder plus the handles a test needs to drive it and look at it."""

    path: Path
    moto: MotoEndpoint
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> Run:
        """Run ``retention-pipeline ARGS --home HOME`` in-process; capture its output."""
        self.capsys.readouterr()
        try:
            rc = main([*args, "--home", str(self.path)])
        except SystemExit as exited:  # argparse refuses bad arguments by exiting, code 2
            rc = exited.code if isinstance(exited.code, int) else 1
        captured = self.capsys.readouterr()
        return Run(rc, captured.out, captured.err)

    def installation(self) -> bootstrap.Installation:
        """A fresh installation object, as a new process would build it."""
        return bootstrap.load_installation(self.path)


def init_home(path: Path) -> Path:
    """``retention-pipeline init`` of a new home at ``path``, which must succeed."""
    assert main(["init", "--home", str(path)]) == 0
    return path


def versioned_bucket(moto: MotoEndpoint, prefix: str, *, lock: bool = False) -> str:
    """A fresh bucket ``PREFIX-<random>`` with versioning, and object lock if ``lock``."""
    name = f"{prefix}-{uuid.uuid4().hex[:16]}"
    s3 = moto.client("s3")
    extra = {"ObjectLockEnabledForBucket": True} if lock else {}
    s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": moto.region}, **extra
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def write_settings(
    home: Path,
    moto: MotoEndpoint,
    custody: str,
    *,
    alias_prefix: str,
    stores: dict[str, Any],
    **sections: Any,
) -> None:
    """``retention.yaml``: SQLite catalog, ``custody``, ``folder`` plus ``stores``, ``sections``.

    ``alias_prefix`` names the aws-kms aliases; a random part is added to it, because
    moto lives for the whole session and each home must see only its own keys.
    """
    key_custody: dict[str, Any] = {"kind": "local", "master_key_file": "keys/master.key"}
    if custody == "aws-kms":
        key_custody = {
            "kind": "aws-kms",
            "region": moto.region,
            "endpoint_url": moto.url,
            "key_alias_prefix": f"alias/{alias_prefix}-{uuid.uuid4().hex[:12]}/",
        }
    settings = {
        "catalog": "sqlite:///catalog.db",
        "key_custody": key_custody,
        "signing_key": "keys/certificates.ed25519",
        "stores": {"folder": FOLDER_STORE, **stores},
        **sections,
    }
    (home / "retention.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
