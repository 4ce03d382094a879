"""Memory bound of the S3 store: a 256 MiB object goes up and down in well under 64 MiB.

The store contract promises that ``put`` holds at most one part in memory and that
``get`` streams; a backup worker with 2 GB of RAM relies on that for 50 GB dumps. The
transfer runs in a subprocess, which reports its own peak RSS growth (``ru_maxrss``
after the transfer minus before it, with the high-water mark reset to the current RSS
first), because moto's server lives in the test process and keeps the object in memory.
"""

from __future__ import annotations

import pytest
from tests.stores.conftest import make_bucket, run_script
from tests.support.moto import MotoEndpoint

from retention_pipeline.adapters.s3_store import S3Store, s3_client

MiB = 1024 * 1024
SIZE = 256 * MiB
MAX_GROWTH = 64 * MiB

STREAM_THROUGH = """
import hashlib, json, resource, sys
from retention_pipeline.adapters.stores import open_store

args = json.load(sys.stdin)
size = args.pop("size")
store = open_store(**args)
MiB = 1024 * 1024

def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

# Warm up: load botocore's models, open the connection pool, so only the transfer counts.
store.put("warmup", [b"w" * 1000])
b"".join(store.get("warmup"))
store.head("warmup")

sent = hashlib.sha256()
def generated():
    block = bytes(range(256)) * (MiB // 256)
    for i in range(size // MiB):
        chunk = i.to_bytes(8, "big") + block[8:]
        sent.update(chunk)
        yield chunk

# Reset the kernel's high-water mark to the current RSS, so transient peaks of the imports
# above (botocore parses large JSON models) cannot hide the transfer's own peak.
try:
    with open("/proc/self/clear_refs", "w") as reset:
        reset.write("5")
except OSError:
    pass
before = peak_rss()
stored = store.put("big.age", generated(), size_hint=size)
received, length = hashlib.sha256(), 0
for chunk in store.get("big.age"):
    received.update(chunk)
    length += len(chunk)
after = peak_rss()
head = store.head("big.age")
print(json.dumps({
    "growth": after - before,
    "sent": sent.hexdigest(),
    "stored": stored.sha256,
    "head": head.sha256,
    "received": received.hexdigest(),
    "length": length,
}))
"""


@pytest.mark.slow
def test_a_256_mib_object_streams_through_in_bounded_memory(moto: MotoEndpoint) -> None:
    bucket = make_bucket(moto, locked=False)
    spec = {
        "name": "memory",
        "url": f"s3://{bucket}/crm",
        "location": moto.region,
        "endpoint_url": moto.url,
        "size": SIZE,
    }
    try:
        report = run_script(STREAM_THROUGH, spec)
        assert report["returncode"] == 0
        assert report["length"] == SIZE
        assert report["sent"] == report["stored"] == report["head"] == report["received"]
        assert report["growth"] < MAX_GROWTH, f"peak RSS grew by {report['growth'] / MiB:.1f} MiB"
    finally:
        store = S3Store("memory", bucket, "crm", moto.region, client=s3_client(moto.url, None))
        store.delete_versions([(v.key, v.version_id) for v in store.list_versions()])
