"""The S3 object store (AWS S3 or any S3-compatible service reached by ``endpoint_url``).

Rules this module enforces, beyond the port's contract:

* Every request goes through ``call_with_retry``; botocore's own retries are off
  (``s3_client``), so one policy decides. Each ``UploadPart`` is retried on its own: the
  part is in memory and can be resent, the caller's stream cannot be rewound.
* At most ``s3_parts.PARTS_IN_FLIGHT`` parts of a multipart ``put`` travel at once (plus one
  being read), so memory stays bounded while sending overlaps producing.
* ``put`` hashes the bytes as they go out and stores the SHA-256 as the object tag
  ``sha256`` (in the ``PutObject`` request, or by ``PutObjectTagging`` right after
  ``CompleteMultipartUpload``); ``head`` reads it back with ``GetObjectTagging``.
* A failed multipart ``put`` aborts its upload (best effort; whatever survives a crash is
  found by ``list_unfinished_uploads``).
* ``delete_versions`` never sends more than ``MAX_DELETE_BATCH`` keys in one request,
  whatever the server accepts.
* Locks: S3 (and moto, checked in moto 5.2) refuses to delete a version under an
  unexpired retention lock or legal hold with ``AccessDenied``; we read the version's
  retention to tell that refusal (``ObjectLockedError``) from a missing permission
  (``StorePermissionError``). moto does not refuse to shorten a compliance lock, so
  ``set_lock`` checks that itself before asking.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from retention_pipeline.adapters.byte_stream import CHUNK_SIZE, iter_parts
from retention_pipeline.adapters.retry import RetryPolicy, call_with_retry
from retention_pipeline.adapters.s3_errors import translate
from retention_pipeline.adapters.s3_listing import READ_AHEAD_EVENTS, list_pages, on_raw_answer
from retention_pipeline.adapters.s3_parts import send_parts
from retention_pipeline.adapters.s3_versions import VersionDeleter
from retention_pipeline.adapters.wire_logs import keep_bodies_out_of_logs
from retention_pipeline.ports.store import (
    NULL_VERSION,
    LockNotSupportedError,
    ObjectLock,
    ObjectLockedError,
    ObjectNotFoundError,
    ObjectVersion,
    StoreCapabilities,
    StoredObject,
    StoreError,
    TransientStoreError,
    UnfinishedUpload,
    check_key,
    part_size_for,
)

SHA256_TAG = "sha256"
MAX_CONNECTIONS = 16


_S3_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, minus dateutil for the form S3 writes in its XML bodies.

    botocore reads every timestamp with ``dateutil`` (about 0.1 ms each): half of what our
    client spent on a ListObjectVersions page of 1000 versions (90 of 180 ms, on moto).
    ``2026-11-26T16:04:00.000Z`` (S3's form) is read by ``datetime.fromisoformat`` in
    microseconds, as the same instant in UTC; anything else (HTTP dates in headers, epoch
    numbers) still goes to botocore's parser.
    """
    if isinstance(value, str) and _S3_TIMESTAMP.fullmatch(value):
        return datetime.fromisoformat(value)
    parsed: datetime = botocore.utils.parse_timestamp(value)
    return parsed


@functools.cache
def _session() -> botocore.session.Session:
    """One botocore session for our S3 clients, whose responses use ``parse_timestamp``.

    botocore's, not boto3's: boto3 adds nothing an S3 client of ours uses (resources,
    transfer helpers), and importing it (with ``s3transfer``) cost about 0.1 s of every
    command's start-up here, which a backup or a restore pays on top of its work. Its own
    session, so every other client keeps botocore's parser; cached, so the service model
    is loaded once.
    """
    core = botocore.session.Session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    return core


def s3_client(
    endpoint_url: str | None,
    region: str | None,
    *,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
) -> Any:
    """An S3 client with botocore's retries off: retrying is ``call_with_retry``'s job."""
    keep_bodies_out_of_logs()
    # ``max_attempts`` would count retries (1 = two requests); ``total_max_attempts`` counts all.
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # erasure's read-back checks run 16 at a time (erasure_scope.READ_CHECKS); with
        # botocore's 10 connections, urllib3 would open and drop one per extra request
        max_pool_connections=MAX_CONNECTIONS,
    )
    return _session().create_client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


class S3Store:
    """Objects under ``prefix/`` in one bucket; see the module docstring for the rules."""

    def __init__(
        self,
        name: str,
        bucket: str,
        prefix: str,
        location: str | None,
        *,
        endpoint_url: str | None = None,
        storage_class: str | None = None,
        client: Any = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing it is safe
        versioning: bool = True,
        object_lock: bool = False,
        part_size: int | None = None,
        list_page_size: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.location = location
        self.bucket = bucket
        self.storage_class = storage_class
        self.capabilities = StoreCapabilities(versioning, object_lock, storage_classes=True)
        self.client = client if client is not None else s3_client(endpoint_url, location)
        for event in READ_AHEAD_EVENTS:  # listings read their next page ahead (s3_listing)
            self.client.meta.events.register(event, on_raw_answer, unique_id=f"read-ahead {event}")
        self.retry = retry
        stripped = prefix.strip("/")
        self._prefix = f"{check_key(stripped)}/" if stripped else ""
        self._part_size = part_size
        self.list_page_size = list_page_size  # None: the server's (1000 on S3); tests page small
        self._sleep = sleep

    # -- plumbing ------------------------------------------------------------------------

    def call(self, what: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
        """One S3 request with error translation and our retry policy."""

        def attempt() -> Any:
            try:
                return operation(**kwargs)
            except (ClientError, BotoCoreError) as error:
                raise translate(error, store=self.name, what=what) from error

        return call_with_retry(
            attempt, self.retry, what=f"store {self.name!r}: {what}", sleep=self._sleep
        )

    def s3_key(self, key: str) -> str:
        """The bucket key of a store key (checked first, so nothing escapes the prefix)."""
        return self._prefix + check_key(key)

    def s3_key_prefix(self, prefix: str) -> str:
        """The bucket prefix of a listing prefix (checked by the caller)."""
        return self._prefix + prefix

    def store_key(self, s3_key: str) -> str:
        """The store key of a bucket key listed under our prefix."""
        return s3_key[len(self._prefix) :]

    def _target(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        target: dict[str, Any] = {"Bucket": self.bucket, "Key": self.s3_key(key)}
        if version_id is not None:
            target["VersionId"] = version_id
        return target

    def probe(self) -> None:
        """HeadBucket (exists, reachable, credentials), then its versioning status."""
        try:
            self.call(f"HeadBucket {self.bucket}", self.client.head_bucket, Bucket=self.bucket)
        except ObjectNotFoundError:
            raise StoreError(
                f"store {self.name!r}: bucket {self.bucket} does not exist; create it (with "
                "versioning) or fix the store's url in retention.yaml"
            ) from None
        if self.capabilities.versioning:
            answer = self.call(
                f"GetBucketVersioning {self.bucket}",
                self.client.get_bucket_versioning,
                Bucket=self.bucket,
            )
            if answer.get("Status") != "Enabled":
                raise StoreError(
                    f"store {self.name!r}: bucket {self.bucket} has versioning "
                    f"{answer.get('Status', 'off').lower()}; enable versioning on the bucket "
                    "(every recovery point is addressed by its version)"
                )

    # -- writing -------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: BinaryIO | Iterable[bytes],
        *,
        size_hint: int | None = None,
        storage_class: str | None = None,
        lock: ObjectLock | None = None,
    ) -> StoredObject:
        """Stream ``data``: one PutObject below one part, else a multipart upload."""
        target = self._target(key)
        if lock is not None and not self.capabilities.object_lock:
            raise self._no_lock("put with a retention lock")
        extra: dict[str, Any] = {}
        if storage_class or self.storage_class:
            extra["StorageClass"] = storage_class or self.storage_class
        if lock is not None:
            extra["ObjectLockMode"] = lock.mode.upper()
            extra["ObjectLockRetainUntilDate"] = lock.until
        part_size = self._part_size or part_size_for(size_hint)
        parts = iter_parts(data, part_size)
        first = next(parts, b"")
        digest = hashlib.sha256(first)
        if len(first) < part_size:
            tagging = f"{SHA256_TAG}={digest.hexdigest()}"
            done = self.call(
                f"PutObject {key}",
                self.client.put_object,
                Body=first,
                Tagging=tagging,
                **target,
                **extra,
            )
            size = len(first)
        else:
            done, size = self._multipart(key, target, extra, first, parts, digest)
        version_id = done.get("VersionId")
        if version_id is None and self.capabilities.versioning:
            raise StoreError(
                f"store {self.name!r}: bucket {self.bucket} kept no version of {key}: its "
                "versioning is off or suspended; enable versioning on the bucket (every "
                "recovery point is addressed by its version, and erasure checks them all)"
            )
        return self._stored(key, self._head(key, version_id), digest.hexdigest(), size)

    def _multipart(
        self,
        key: str,
        target: dict[str, Any],
        extra: dict[str, Any],
        first: bytes,
        parts: Iterator[bytes],
        digest: Any,
    ) -> tuple[dict[str, Any], int]:
        """Upload ``first`` and the remaining ``parts``; abort the upload on any failure."""
        created = self.call(
            f"CreateMultipartUpload {key}", self.client.create_multipart_upload, **target, **extra
        )
        upload = {**target, "UploadId": created["UploadId"]}
        try:
            etags, size = send_parts(self, key, upload, first, parts, digest)
            done: dict[str, Any] = self.call(
                f"CompleteMultipartUpload {key}",
                self.client.complete_multipart_upload,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
                },
                **upload,
            )
        except BaseException:
            self._abort_quietly(upload)
            raise
        tags = {"TagSet": [{"Key": SHA256_TAG, "Value": digest.hexdigest()}]}
        version = {"VersionId": done["VersionId"]} if done.get("VersionId") else {}
        try:
            self.call(
                f"PutObjectTagging {key}",
                self.client.put_object_tagging,
                Tagging=tags,
                **target,
                **version,
            )
        except BaseException:
            # An object without its checksum must not look complete: remove it (unless a
            # lock forbids it; then the missing tag makes every later check fail loudly).
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.delete_object(**target, **version)
            raise
        return done, size

    def _abort_quietly(self, upload: dict[str, Any]) -> None:
        """Best effort: if this fails too, ``abort_unfinished_uploads`` cleans up later."""
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.abort_multipart_upload(**upload)

    # -- reading -------------------------------------------------------------------------

    def get(self, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """Send GetObject now (so a missing object raises here), then stream the body."""
        target = self._target(key, version_id)
        answer = self.call(f"GetObject {key}", self.client.get_object, **target)
        return self._stream(key, target, answer)

    def _stream(self, key: str, target: dict[str, Any], answer: Any) -> Iterator[bytes]:
        """Yield the body; on a transient break, resume with a Range request on the same
        version (pinned by ETag), as many times as the retry policy allows."""
        offset, breaks = 0, 0
        while True:
            body = answer["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    offset += len(chunk)
                    yield chunk
                return
            except (ClientError, BotoCoreError) as error:
                failure = translate(error, store=self.name, what=f"reading {key}")
                breaks += 1
                if not isinstance(failure, TransientStoreError) or breaks >= self.retry.attempts:
                    raise failure from error
            finally:
                body.close()
            answer = self.call(
                f"GetObject {key} from byte {offset}",
                self.client.get_object,
                Range=f"bytes={offset}-",
                IfMatch=answer["ETag"],
                **target,
            )

    def head(self, key: str, version_id: str | None = None) -> StoredObject:
        """HeadObject for size, class and lock; GetObjectTagging for the SHA-256."""
        answer = self._head(key, version_id)
        target = self._target(key, version_id)
        tags = self.call(f"GetObjectTagging {key}", self.client.get_object_tagging, **target)
        sha256 = {t["Key"]: t["Value"] for t in tags.get("TagSet", [])}.get(SHA256_TAG, "")
        return self._stored(key, answer, sha256, int(answer["ContentLength"]))

    def _head(self, key: str, version_id: str | None) -> Any:
        target = self._target(key, version_id)
        return self.call(f"HeadObject {key}", self.client.head_object, **target)

    def _stored(self, key: str, head: Any, sha256: str, size: int) -> StoredObject:
        lock = None
        if head.get("ObjectLockMode") and head.get("ObjectLockRetainUntilDate"):
            lock = ObjectLock(head["ObjectLockMode"].lower(), head["ObjectLockRetainUntilDate"])
        return StoredObject(
            key=key,
            version_id=head.get("VersionId") or NULL_VERSION,
            size=size,
            sha256=sha256,
            last_modified=head["LastModified"],
            storage_class=head.get("StorageClass", "STANDARD"),
            lock=lock,
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    # -- listing and deleting ------------------------------------------------------------

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """ListObjectVersions, page by page (each page retried), versions and markers."""
        for page in list_pages(
            self, "list_object_versions", prefix, ("KeyMarker", "VersionIdMarker")
        ):
            entries = [(v, False) for v in page.get("Versions", [])]
            entries += [(m, True) for m in page.get("DeleteMarkers", [])]
            entries.sort(key=lambda e: (e[0]["Key"], -e[0]["LastModified"].timestamp()))
            for entry, is_marker in entries:
                yield ObjectVersion(
                    key=self.store_key(entry["Key"]),
                    version_id=entry.get("VersionId") or NULL_VERSION,
                    is_delete_marker=is_marker,
                    is_latest=bool(entry.get("IsLatest")),
                    size=int(entry.get("Size", 0)),
                    last_modified=entry["LastModified"],
                )

    def delete_version(self, key: str, version_id: str) -> None:
        """DeleteObject on one version; gone already is fine; locked is refused."""
        self.delete_versions([(key, version_id)])

    def delete_versions(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """DeleteObjects in batches of at most ``MAX_DELETE_BATCH``; see ``VersionDeleter``."""
        return VersionDeleter(self).delete(items)

    # -- unfinished uploads ----------------------------------------------------------------

    def list_unfinished_uploads(self, prefix: str = "") -> Iterator[UnfinishedUpload]:
        """ListMultipartUploads under our prefix, page by page."""
        for page in list_pages(
            self, "list_multipart_uploads", prefix, ("KeyMarker", "UploadIdMarker")
        ):
            for upload in page.get("Uploads", []):
                key = self.store_key(upload["Key"])
                yield UnfinishedUpload(key, upload["UploadId"], upload["Initiated"])

    def abort_unfinished_uploads(self, prefix: str = "") -> int:
        """AbortMultipartUpload for each; an upload that vanished meanwhile still counts."""
        count = 0
        for upload in list(self.list_unfinished_uploads(prefix)):
            target = self._target(upload.key)
            with contextlib.suppress(ObjectNotFoundError):
                self.call(
                    f"AbortMultipartUpload {upload.key}",
                    self.client.abort_multipart_upload,
                    UploadId=upload.upload_id,
                    **target,
                )
            count += 1
        return count

    # -- locks -----------------------------------------------------------------------------

    def set_lock(self, key: str, version_id: str, lock: ObjectLock) -> None:
        """PutObjectRetention, refusing to shorten or weaken an unexpired compliance lock."""
        target = self._target(key, version_id)
        if not self.capabilities.object_lock:
            raise self._no_lock("set a retention lock")
        current = self._stored(key, self._head(key, version_id), "", 0).lock
        now = datetime.now(UTC)
        if (
            current
            and current.mode == "compliance"
            and current.until > now
            and (lock.mode != "compliance" or lock.until < current.until)
        ):
            raise ObjectLockedError(
                f"store {self.name!r}: {key} (version {version_id}) is under a compliance "
                f"lock until {current.until.isoformat()}, which cannot be shortened or "
                "weakened; ask for a date on or after it"
            )
        retention = {"Mode": lock.mode.upper(), "RetainUntilDate": lock.until}
        self.call(
            f"PutObjectRetention {key}",
            self.client.put_object_retention,
            Retention=retention,
            **target,
        )

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        """PutObjectLegalHold ON or OFF."""
        target = self._target(key, version_id)
        if not self.capabilities.object_lock:
            raise self._no_lock("set a legal hold")
        self.call(
            f"PutObjectLegalHold {key}",
            self.client.put_object_legal_hold,
            LegalHold={"Status": "ON" if on else "OFF"},
            **target,
        )

    def _no_lock(self, action: str) -> LockNotSupportedError:
        return LockNotSupportedError(self.name, action, "is not configured with object_lock")
