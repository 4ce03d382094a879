"""Erasing a client's objects: batched deletes (our erasure) against one request per version.

Run: ``.venv/bin/python benchmarks/bench_erasure.py [OBJECTS]`` (default 100,000, the
figure of issue #5). Prints a markdown table. Not part of the tests: speed is measured
here, never asserted.

What is measured, on moto's HTTP server running in its own process:

* **batched**: the store part of ``ErasureService`` (``StoreReach``) on OBJECTS keys under
  one client prefix in a versioned bucket, one in five with a second version and one in
  ten with a delete marker on top: resolve the scope (ListObjectVersions and
  ListMultipartUploads pages, each page requested while the one before is parsed),
  delete every version and marker with ``delete_versions`` (DeleteObjects, 1000 keys a
  request, ``DELETE_LANES`` requests in flight), abort uploads, and verify by listing
  again;
* **one per request**: the same resolution and verification, but each version deleted
  with its own DeleteObject request, on a sample of the same shape holding a tenth of
  OBJECTS (10,000 by default); its time and request count are extrapolated linearly to
  OBJECTS (and the table says so).

The server is moto's, started through ``moto_listing.py``, which replaces moto's
ListObjectVersions with one that returns the same pages but costs what a page costs.
moto's own one deep-copies and sorts every version of the bucket for every page, so
listing N versions costs O(N^2) there: on unpatched moto, 10,000 objects (13,000 versions
and markers) took 18 s to list for our erasure against 1 s to delete, the whole erasure
was only 2.7x faster than one request per version although it sent 434x fewer requests,
and at 100,000 objects the listing ran for 20 minutes, grew moto to 14.7 GB and lost the
connection. Real S3 answers a page in about constant time. Both contenders run against
the same patched server. With the patch, no request costs more in a larger bucket (but
for a check of the bucket's key list, about 2 ms per page at 100,000 keys), which is what
makes the linear extrapolation of the sample valid.

Not measured, for either method: the service's read-back check after deleting (one GET
per deleted version, ``StoreReach.readable``, 16 in flight), which any method needs; on
moto it costs about 3.7 ms a version (3,000 objects: 3,600 GETs, 13.4 s).

Requests are counted with a botocore ``before-send`` hook on the store's client, so
retries would count too. The catalog is a small in-memory stand-in that knows every
version's SHA-256 (the real service reads it from the catalog; no request either way).
Seeding (16 threads, outside the measured phases) and the whole run are timed too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from measurement import moto_process
from retention_pipeline.adapters.s3_store import S3Store
from retention_pipeline.ports.catalog import RecoveryPoint
from retention_pipeline.services.erasure_scope import StoreReach

REGION = "eu-west-3"
SAMPLE_SHARE = 10  # the one-per-request sample holds OBJECTS / SAMPLE_SHARE objects
SEED_THREADS = 16
CLIENT = "bench-client"
SHA = "0" * 64


@dataclass
class SeededCatalog:
    """The two catalog reads ``StoreReach`` makes, over the versions we seeded."""

    points: list[RecoveryPoint]

    def list_recovery_points(self, client_id: str | None = None, statuses: Any = None) -> Any:
        return self.points

    def list_archive_copies(self, client_id: str | None = None) -> list[Any]:
        return []


def raw_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=SEED_THREADS),
    )


def seed(endpoint: str, bucket: str, objects: int) -> list[RecoveryPoint]:
    """Put the objects (threads: seeding is not what we measure); return their records."""
    s3 = raw_client(endpoint)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    now = datetime.now(UTC)

    def put(index: int) -> list[RecoveryPoint]:
        key = f"{CLIENT}/recovery-points/rp-{index:07d}.tar.zst.age"
        out = []
        for _ in range(2 if index % 5 == 0 else 1):
            version = s3.put_object(Bucket=bucket, Key=f"data/{key}", Body=b"x")["VersionId"]
            out.append(_point(f"{index}-{version}", key, version, now))
        if index % 10 == 0:
            s3.delete_object(Bucket=bucket, Key=f"data/{key}")
        return out

    with ThreadPoolExecutor(max_workers=SEED_THREADS) as pool:
        return [point for batch in pool.map(put, range(objects)) for point in batch]


def _point(rp_id: str, key: str, version: str, at: datetime) -> RecoveryPoint:
    return RecoveryPoint(
        id=rp_id, client_id=CLIENT, store="bench", key=key, status="complete", created_at=at,
        scheduled_for=None, requested_by=None, recipients=(), size=1, sha256=SHA,
        version_id=version, manifest_sha256=None, completed_at=at, failed_at=None,
        deleted_at=None, reason=None,
    )  # fmt: skip


def counted_store(endpoint: str, bucket: str) -> tuple[S3Store, list[int]]:
    store = S3Store("bench", bucket, "data", REGION, endpoint_url=endpoint)
    count = [0]

    def on_send(**_: Any) -> None:
        count[0] += 1

    store.client.meta.events.register("before-send.s3", on_send)
    return store, count


@dataclass(frozen=True)
class Phases:
    """Seconds and requests of one erasure, phase by phase."""

    versions: int
    list_s: float
    delete_s: float
    verify_s: float
    list_requests: int
    delete_requests: int
    verify_requests: int

    def scaled(self, factor: float) -> Phases:
        return Phases(
            round(self.versions * factor), self.list_s * factor, self.delete_s * factor,
            self.verify_s * factor, round(self.list_requests * factor),
            round(self.delete_requests * factor), round(self.verify_requests * factor),
        )  # fmt: skip

    @property
    def total_s(self) -> float:
        return self.list_s + self.delete_s + self.verify_s

    @property
    def requests(self) -> int:
        return self.list_requests + self.delete_requests + self.verify_requests


def erase(endpoint: str, bucket: str, points: list[RecoveryPoint], batched: bool) -> Phases:
    """Resolve (list), delete, then abort uploads and verify by listing, on one bucket."""
    store, count = counted_store(endpoint, bucket)
    reach = StoreReach(SeededCatalog(points), lambda _: store, ["bench"])  # type: ignore[arg-type]
    marks = [time.perf_counter()]
    [scope] = reach.resolve(CLIENT)
    marks.append(time.perf_counter())
    listed = count[0]
    if batched:
        reach.delete(scope.entries, datetime.now(UTC))
    else:
        for entry in scope.entries:
            store.call("DeleteObject", store.client.delete_object, Bucket=bucket,
                       Key=store.s3_key(entry.key), VersionId=entry.version_id)  # fmt: skip
    marks.append(time.perf_counter())
    deleted = count[0]
    reach.abort_uploads(CLIENT)
    problems = reach.remaining(CLIENT, [])
    marks.append(time.perf_counter())
    if problems:
        raise SystemExit(f"erasure left objects behind: {problems}")
    return Phases(
        len(scope.entries), marks[1] - marks[0], marks[2] - marks[1], marks[3] - marks[2],
        listed, deleted - listed, count[0] - deleted,
    )  # fmt: skip


def table(objects: int, sampled: int, ours: Phases, per_key: Phases, sample: Phases) -> str:
    head = ["method", "versions+markers", "list: req / s", "delete: req / s",
            "verify: req / s", "total: req / s"]  # fmt: skip
    rows = []
    for name, p in (("DeleteObjects, 1000 a request (ours)", ours),
                    ("DeleteObject, one per request *", per_key)):  # fmt: skip
        rows.append([name, f"{p.versions}", f"{p.list_requests} / {p.list_s:.1f}",
                     f"{p.delete_requests} / {p.delete_s:.1f}",
                     f"{p.verify_requests} / {p.verify_s:.1f}",
                     f"{p.requests} / {p.total_s:.1f}"])  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append(
        f"\n\\* extrapolated linearly from a {sampled}-object sample of the same shape "
        f"({sample.requests} requests, {sample.total_s:.1f} s), to {objects} objects."
    )
    return "\n".join(lines)


def main(objects: int) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    sampled = max(objects // SAMPLE_SHARE, 1)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as folder,
        moto_process(Path(folder) / "moto.log", patched_listing=True) as url,
    ):
        print(f"seeding {objects} + {sampled} objects on moto ...", file=sys.stderr)
        seeding = time.perf_counter()
        big = seed(url, "bench-batched", objects)
        small = seed(url, "bench-per-key", sampled)
        seeding = time.perf_counter() - seeding
        print(f"seeded in {seeding:.0f} s; erasing ...", file=sys.stderr)
        ours = erase(url, "bench-batched", big, batched=True)
        sample = erase(url, "bench-per-key", small, batched=False)
    whole = time.perf_counter() - started
    per_key = sample.scaled(objects / sampled)
    markers = (objects + 9) // 10 + (sampled + 9) // 10  # seed() marks one key in ten
    # "###": run_all.py cuts the README into sections at "## " headings.
    print(f"### Erasing {objects} objects on moto's HTTP server (ListObjectVersions patched)\n")
    print(table(objects, sampled, ours, per_key, sample))
    print(
        f"\nwhole erasure: {per_key.requests / ours.requests:.1f}x fewer requests, "
        f"{per_key.total_s / ours.total_s:.1f}x less time; deletion phase alone: "
        f"{per_key.delete_requests / max(ours.delete_requests, 1):.1f}x fewer requests, "
        f"{per_key.delete_s / ours.delete_s:.1f}x less time (target: 20x and 10x)"
    )
    print(
        f"\nwhole run: {whole:.0f} s, of which seeding {objects + sampled} objects "
        f"({len(big) + len(small)} versions and {markers} delete markers, {SEED_THREADS} "
        f"threads) {seeding:.0f} s, our erasure {ours.total_s:.1f} s, the one-per-request "
        f"sample {sample.total_s:.1f} s."
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
