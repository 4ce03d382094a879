"""The local-folder object store: the embedded default, and the reference for the contract.

Layout under ``root``::

    root/<key>                  the object's bytes (one version, id "null")
    root/.meta/<key>.json       sidecar: sha256, size, created, storage class, inode
    root/.uploads/<id>          an upload in progress (the "unfinished upload")
    root/.uploads/<id>.json     which key that upload is for, and when it started

Rules this module enforces:

* A key is checked by ``check_key`` and its resolved path (symlinks followed) must stay
  under ``root``; the two reserved top-level names ``.meta`` and ``.uploads`` are refused.
* ``put`` writes to ``.uploads``, fsyncs, then renames into place, so a reader sees
  either the old object or the new one, never a torn one, and a failed put leaves no
  visible object.
* The sidecar records the inode of the data file it describes. If a crash fell between
  the data rename and the sidecar rename, ``head`` sees the mismatch and re-hashes the
  file instead of reporting the previous version's checksum.
* There are no versions, locks or storage classes; ``set_lock`` and ``set_legal_hold``
  refuse with ``LockNotSupportedError`` rather than pretending to protect anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from retention_pipeline.adapters.byte_stream import CHUNK_SIZE, iter_chunks
from retention_pipeline.ports.store import (
    NULL_VERSION,
    InvalidKeyError,
    LockNotSupportedError,
    ObjectLock,
    ObjectNotFoundError,
    ObjectVersion,
    StoreCapabilities,
    StoredObject,
    StoreError,
    StorePermissionError,
    UnfinishedUpload,
    check_key,
)

META_DIR = ".meta"
UPLOADS_DIR = ".uploads"
_RESERVED = (META_DIR, UPLOADS_DIR)


class FolderStore:
    """An object store in a local folder (see the module docstring for the layout)."""

    capabilities = StoreCapabilities(versioning=False, object_lock=False, storage_classes=False)

    def __init__(self, name: str, root: Path, location: str | None) -> None:
        self.name = name
        self.location = location
        self.root = Path(root)
        self._real_root = Path(os.path.realpath(self.root))

    # -- paths -------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The data path of ``key``, refused if it could leave the store's folder."""
        check_key(key)
        if key.split("/", 1)[0] in _RESERVED:
            raise InvalidKeyError(
                f"object key {key!r} starts with a name reserved by store {self.name!r}; "
                "use another first segment"
            )
        path = self.root / key
        real = Path(os.path.realpath(path))
        if real != self._real_root and self._real_root not in real.parents:
            raise InvalidKeyError(
                f"object key {key!r} resolves outside store {self.name!r} (a symlink?); "
                f"remove the link under {self.root}"
            )
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / f"{key}.json"

    def _not_found(self, key: str, version_id: str | None) -> ObjectNotFoundError:
        version = f" version {version_id}" if version_id else ""
        return ObjectNotFoundError(f"store {self.name!r} has no object {key!r}{version}")

    def _data_path(self, key: str, version_id: str | None) -> Path:
        path = self._path(key)
        if version_id not in (None, NULL_VERSION) or not path.is_file():
            raise self._not_found(key, version_id)
        return path

    def probe(self) -> None:
        """The folder exists (or can be made) and this process may write into it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorePermissionError(
                f"store {self.name!r}: cannot create its folder {self.root} "
                f"({error.strerror}); create it or fix the store's url"
            ) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorePermissionError(
                f"store {self.name!r}: this process may not write into {self.root}; fix "
                "the folder's owner or mode"
            )

    # -- writing -----------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: BinaryIO | Iterable[bytes],
        *,
        size_hint: int | None = None,
        storage_class: str | None = None,
        lock: ObjectLock | None = None,
    ) -> StoredObject:
        """Stream ``data`` to a temporary file, fsync it, then rename it into place."""
        target = self._path(key)
        if lock is not None:
            raise self._no_lock("put with a retention lock")
        try:
            return self._put(target, key, data, storage_class)
        except OSError as error:  # its text names the folder, which may name a client
            kind = StorePermissionError if isinstance(error, PermissionError) else StoreError
            raise kind(
                f"store {self.name!r}: writing {key} failed "
                f"({error.strerror or type(error).__name__}); check that this worker may "
                "write to the store's folder and that its disk has room"
            ) from None

    def _put(
        self, target: Path, key: str, data: BinaryIO | Iterable[bytes], storage_class: str | None
    ) -> StoredObject:
        uploads = self.root / UPLOADS_DIR
        uploads.mkdir(parents=True, exist_ok=True)
        upload_id = uuid.uuid4().hex
        partial = uploads / upload_id
        record = uploads / f"{upload_id}.json"
        started = datetime.now(UTC)
        _write_json(record, {"key": key, "initiated": started.isoformat()})
        try:
            digest, size = _write_synced(partial, data)
            meta = {
                "sha256": digest,
                "size": size,
                "created": started.isoformat(),
                "storage_class": storage_class,
                "inode": partial.stat().st_ino,
            }
            meta_path = self._meta_path(key)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            meta_tmp = uploads / f"{upload_id}.meta"
            _write_json(meta_tmp, meta)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial.replace(target)
            meta_tmp.replace(meta_path)
        except BaseException:
            for leftover in (partial, uploads / f"{upload_id}.meta", record):
                leftover.unlink(missing_ok=True)
            raise
        record.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return StoredObject(key, NULL_VERSION, size, digest, started, storage_class)

    # -- reading -----------------------------------------------------------------------

    def get(self, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """Open the file now (so a missing object raises here) and stream it in chunks."""
        handle = self._data_path(key, version_id).open("rb")
        return _read_and_close(handle)

    def head(self, key: str, version_id: str | None = None) -> StoredObject:
        """Read the sidecar; re-hash the file if the sidecar does not describe it."""
        path = self._data_path(key, version_id)
        stat = path.stat()
        meta = _read_json(self._meta_path(key))
        if meta.get("inode") != stat.st_ino or meta.get("size") != stat.st_size:
            with path.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            created = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()
            meta = {"sha256": digest, "size": stat.st_size, "created": created}
            meta |= {"storage_class": None, "inode": stat.st_ino}
            self._meta_path(key).parent.mkdir(parents=True, exist_ok=True)
            _write_json(self._meta_path(key), meta)
        return StoredObject(
            key=key,
            version_id=NULL_VERSION,
            size=int(meta["size"]),
            sha256=str(meta["sha256"]),
            last_modified=datetime.fromisoformat(str(meta["created"])),
            storage_class=meta.get("storage_class"),
        )

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Every object under ``prefix`` in key order, each as its single "null" version."""
        for key, path in self._walk(prefix):
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            yield ObjectVersion(key, NULL_VERSION, False, True, stat.st_size, modified)

    def _walk(self, prefix: str) -> Iterator[tuple[str, Path]]:
        """(key, path) of every data file whose key starts with ``prefix``, sorted."""
        _check_prefix(prefix)
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base if base else self.root
        if not start.is_dir():
            return
        found: list[tuple[str, Path]] = []
        for directory, dirnames, filenames in os.walk(start):
            if Path(directory) == self.root:
                dirnames[:] = [d for d in dirnames if d not in _RESERVED]
            for filename in filenames:
                path = Path(directory) / filename
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append((key, path))
        yield from sorted(found)

    # -- deleting ----------------------------------------------------------------------

    def delete_version(self, key: str, version_id: str) -> None:
        """Remove the file and its sidecar; a missing object or version is not an error."""
        path = self._path(key)
        if version_id != NULL_VERSION:
            return
        path.unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)
        self._prune_empty_dirs(path.parent)
        self._prune_empty_dirs(self._meta_path(key).parent)

    def delete_versions(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Delete each (key, version) pair; every pair counts as deleted (idempotent)."""
        deleted: list[tuple[str, str]] = []
        for key, version_id in items:
            self.delete_version(key, version_id)
            deleted.append((key, version_id))
        return deleted

    def _prune_empty_dirs(self, directory: Path) -> None:
        """Remove folders a deletion emptied, so erasure leaves no client-named folder."""
        while directory not in (self.root, self.root / META_DIR) and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    # -- unfinished uploads --------------------------------------------------------------

    def list_unfinished_uploads(self, prefix: str = "") -> Iterator[UnfinishedUpload]:
        """Uploads whose temporary file was never renamed into place (crash, kill)."""
        _check_prefix(prefix)
        uploads = self.root / UPLOADS_DIR
        if not uploads.is_dir():
            return
        for record in sorted(uploads.glob("*.json")):
            info = _read_json(record)
            key = str(info.get("key", ""))
            if key.startswith(prefix):
                initiated = datetime.fromisoformat(str(info["initiated"]))
                yield UnfinishedUpload(key, record.stem, initiated)

    def abort_unfinished_uploads(self, prefix: str = "") -> int:
        """Remove the temporary files of every unfinished upload under ``prefix``."""
        uploads = self.root / UPLOADS_DIR
        count = 0
        for upload in list(self.list_unfinished_uploads(prefix)):
            for suffix in ("", ".meta", ".json"):
                (uploads / f"{upload.upload_id}{suffix}").unlink(missing_ok=True)
            count += 1
        return count

    # -- locks ---------------------------------------------------------------------------

    def set_lock(self, key: str, version_id: str, lock: ObjectLock) -> None:
        """Refuse: a folder cannot enforce a retention lock."""
        check_key(key)
        raise self._no_lock("set a retention lock")

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        """Refuse: a folder cannot enforce a legal hold."""
        check_key(key)
        raise self._no_lock("set a legal hold")

    def _no_lock(self, action: str) -> LockNotSupportedError:
        return LockNotSupportedError(self.name, action, "is a local folder with no object lock")


def _check_prefix(prefix: str) -> None:
    """A listing prefix follows the key rules, except that it may end with '/'."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)


def _write_synced(path: Path, data: BinaryIO | Iterable[bytes]) -> tuple[str, int]:
    """Write ``data`` to ``path`` chunk by chunk, fsync it; return (sha256 hex, size)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("xb") as out:
        for chunk in iter_chunks(data, CHUNK_SIZE):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write a small JSON document and fsync it, so a rename after it is durable."""
    with path.open("w", encoding="utf-8") as out:
        json.dump(value, out)
        out.flush()
        os.fsync(out.fileno())


def _read_json(path: Path) -> dict[str, Any]:
    """A sidecar or upload record; an unreadable one counts as empty (head re-hashes)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _fsync_dir(directory: Path) -> None:
    """Make a rename into ``directory`` durable (POSIX needs the folder synced too)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_and_close(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk
