"""Sending the parts of one S3 multipart upload, a bounded number at a time.

Why: an upload alternates between producing a part (decrypting the spool, encrypting,
hashing: our CPU) and sending it (the server's CPU and the network). Sent one by one,
each side waits for the other. With ``PARTS_IN_FLIGHT`` requests running in a small
thread pool, the next part is produced while earlier ones travel.

Rules this module enforces:

* memory stays bounded: at most ``PARTS_IN_FLIGHT`` parts are held by requests, plus the
  one being read from the caller's stream;
* the running SHA-256 sees every byte exactly once and in order (parts are hashed when
  read, in the calling thread, never by the pool);
* each ``UploadPart`` goes through the store's ``call`` (error translation and our retry
  policy), so a part is retried on its own;
* the first failure stops reading; it is raised once the requests still in flight have
  ended, and the caller then aborts the upload.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retention_pipeline.adapters.s3_store import S3Store

PARTS_IN_FLIGHT = 2


def send_parts(
    store: S3Store,
    key: str,
    upload: dict[str, Any],
    first: bytes,
    parts: Iterator[bytes],
    digest: Any,
) -> tuple[dict[int, str], int]:
    """UploadPart ``first`` and every later part; return ETags by part number and the size.

    ``first`` is already hashed by the caller; later parts are hashed here as they are read.
    """
    etags: dict[int, str] = {}
    size, number, part = 0, 0, first
    running: set[Future[tuple[int, str]]] = set()
    with ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="upload-part") as pool:
        try:
            while part:
                number += 1
                size += len(part)
                running.add(pool.submit(_upload_part, store, key, upload, number, part))
                part = b""  # the pool holds it now; keep no second reference
                if len(running) >= PARTS_IN_FLIGHT:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    etags.update(f.result() for f in finished)
                part = next(parts, b"")
                digest.update(part)
            finished, running = wait(running)
            etags.update(f.result() for f in finished)
        finally:
            for future in running:
                future.cancel()
    return etags, size


def _upload_part(
    store: S3Store, key: str, upload: dict[str, Any], number: int, part: bytes
) -> tuple[int, str]:
    answer = store.call(
        f"UploadPart {number} of {key}",
        store.client.upload_part,
        PartNumber=number,
        Body=part,
        **upload,
    )
    return number, str(answer["ETag"])
