"""Fixtures for the object store tests: every adapter behind one ``StoreHandle``.

The contract suite asks for ``handle`` and runs once per kind of store:

* ``folder``: a ``FolderStore`` in ``tmp_path``;
* ``s3-versioned``: an ``S3Store`` on moto's HTTP server, versioned bucket;
* ``s3-locked``: an ``S3Store`` on an object-lock bucket in eu-west-3.

Each S3 test gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support.moto import MotoEndpoint

from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.adapters.retry import RetryPolicy
from retention_pipeline.adapters.s3_store import S3Store, s3_client
from retention_pipeline.ports.store import NULL_VERSION, ObjectStore

# moto refuses non-final parts under 5 MiB, as S3 does: the smallest part that exercises
# a real multipart upload with a ~20 MB object.
TEST_PART_SIZE = 5 * 1024 * 1024
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StoreHandle:
    """A store under test, with what a test needs to look at it from outside."""

    store: ObjectStore
    spec: dict[str, Any]  # open_store() keyword arguments, to rebuild it in a subprocess
    client: Any | None  # the boto3 client of an S3 store (to observe requests), else None
    plain_delete: Callable[[str], None]  # delete the latest version as a user would


def unique_bucket(kind: str) -> str:
    """A fresh, valid bucket name (3-63 lowercase characters)."""
    return f"rp-{kind}-{uuid.uuid4().hex[:20]}"


def make_bucket(moto: MotoEndpoint, *, locked: bool) -> str:
    """Create a versioned (or object-lock, hence versioned) bucket in moto's region."""
    client = moto.client("s3")
    name = unique_bucket("lock" if locked else "ver")
    args: dict[str, Any] = {
        "Bucket": name,
        "CreateBucketConfiguration": {"LocationConstraint": moto.region},
    }
    if locked:
        client.create_bucket(ObjectLockEnabledForBucket=True, **args)
    else:
        client.create_bucket(**args)
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def s3_handle(moto: MotoEndpoint, *, locked: bool, prefix: str = "crm/backups") -> StoreHandle:
    """An S3Store on a fresh bucket, with a small part size to exercise multipart."""
    bucket = make_bucket(moto, locked=locked)
    client = s3_client(moto.url, moto.region)
    store = S3Store(
        "s3-locked" if locked else "s3-versioned",
        bucket,
        prefix,
        moto.region,
        client=client,
        retry=FAST_RETRY,
        object_lock=locked,
        part_size=TEST_PART_SIZE,
    )
    spec = {
        "name": store.name,
        "url": f"s3://{bucket}/{prefix}",
        "location": moto.region,
        "endpoint_url": moto.url,
        "object_lock": locked,
    }

    def plain_delete(key: str) -> None:
        client.delete_object(Bucket=bucket, Key=f"{prefix}/{key}")

    return StoreHandle(store, spec, client, plain_delete)


def folder_handle(root: Path) -> StoreHandle:
    """A FolderStore in ``root``; a plain delete removes the one version."""
    store = FolderStore("folder", root, "eu-west-3")
    spec = {"name": "folder", "url": f"file://{root}", "location": "eu-west-3"}
    return StoreHandle(store, spec, None, lambda key: store.delete_version(key, NULL_VERSION))


@pytest.fixture(params=["folder", "s3-versioned", "s3-locked"])
def handle(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHandle:
    """Each contract test runs against every kind of store."""
    if request.param == "folder":
        return folder_handle(tmp_path / "store")
    moto: MotoEndpoint = request.getfixturevalue("moto")
    return s3_handle(moto, locked=request.param == "s3-locked")


def run_script(script: str, args: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter with ``args`` as JSON on stdin.

    The script prints one JSON object on its last line of output; that is returned.
    A subprocess is how tests kill a put midway for real, and how memory is measured
    without counting moto, which lives in this process.
    """
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise AssertionError(f"script printed nothing (rc={result.returncode}):\n{result.stderr}")
    value: dict[str, Any] = json.loads(lines[-1])
    value["returncode"] = result.returncode
    return value
