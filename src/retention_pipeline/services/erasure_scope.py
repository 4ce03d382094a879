"""An erasure's reach into the stores: find every copy, delete it in batches, check it is gone.

Rules this module enforces:

* the scope comes from the stores themselves (every configured store, every version and
  delete marker under ``<client>/``, every unfinished upload there), not from the
  catalog alone; the catalog only says which entries it knew (the rest are reported as
  unknown to the catalog, and erased all the same);
* the scope is client-exact: a listed key is the client's only when it has the exact
  shape of one of its objects (``domain.object_keys.belongs_to``); anything else under
  the prefix (another store's objects seen through a nested root, files no one wrote
  there) is never deleted, and is counted as left alone;
* the content SHA-256 of an entry is the catalog's when it knew the version, else the
  store's (``head``), else the hash of its bytes; a delete marker has none (empty hash);
* a version under a lock that ends after ``now`` is never sent for deletion, whatever
  the store would do: our ``now`` decides, the store's refusal is a second line;
* deletion goes through ``delete_versions`` (at most 1000 keys a request) and is
  idempotent, so an interrupted run is simply run again;
* verification reads the stores again: nothing may be listed but the residual entries,
  no unfinished upload may remain, and reading each deleted version must fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from retention_pipeline.domain.erasure import EMPTY_SHA256, Entry
from retention_pipeline.domain.object_keys import belongs_to, client_prefix
from retention_pipeline.ports.catalog import Catalog
from retention_pipeline.ports.store import (
    LockedVersionsError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectVersion,
    UnfinishedUpload,
)

# read-back checks in flight at once after an erasure (see ``StoreReach.readable``)
READ_CHECKS = 16


@dataclass
class StoreScope:
    """What one store holds of a client right now."""

    store: str
    location: str
    entries: list[Entry] = field(default_factory=list)
    uploads: int = 0
    left_alone: int = 0  # versions under the prefix that are not the client's

    def summary(self, now: datetime) -> dict[str, int | str]:
        """Counts only (safe to print and log): objects, versions, markers, bytes..."""
        markers = sum(1 for e in self.entries if e.delete_marker)
        return {
            "store": self.store,
            "location": self.location,
            "objects": len({e.key for e in self.entries}),
            "versions": len(self.entries) - markers,
            "delete_markers": markers,
            "unfinished_uploads": self.uploads,
            "bytes": sum(e.size for e in self.entries),
            "unknown_to_catalog": sum(1 for e in self.entries if not e.known),
            "locked": sum(1 for e in self.entries if e.residual_at(now)),
            "left_alone": self.left_alone,
        }


@dataclass
class StoreReach:
    """Scope resolution, deletion and verification over every configured store."""

    catalog: Catalog
    store: Callable[[str], ObjectStore]
    store_names: Sequence[str]

    def resolve(self, client_id: str) -> list[StoreScope]:
        """Every version, delete marker and unfinished upload of the client, per store."""
        known = self._known(client_id)
        scopes = []
        for name in sorted(self.store_names):
            store = self.store(name)
            scope = StoreScope(name, store.location or "unspecified")
            for version in store.list_versions(client_prefix(client_id)):
                if belongs_to(client_id, version.key):
                    scope.entries.append(self._entry(store, version, known))
                else:
                    scope.left_alone += 1
            scope.uploads = len(_uploads(store, client_id))
            scopes.append(scope)
        return scopes

    def _known(self, client_id: str) -> dict[tuple[str, str], dict[str | None, str | None]]:
        """(store, key) -> {version id: sha256} of what the catalog recorded."""
        known: dict[tuple[str, str], dict[str | None, str | None]] = {}
        for rp in self.catalog.list_recovery_points(client_id):
            known.setdefault((rp.store, rp.key), {})[rp.version_id] = rp.sha256
        for copy in self.catalog.list_archive_copies(client_id):
            known.setdefault((copy.store, copy.key), {})[copy.version_id] = copy.sha256
        for attempt in self.catalog.list_archive_attempts(client_id):
            # what an interrupted copy left: the catalog knows of it, not of its version
            known.setdefault((attempt.store, attempt.key), {}).setdefault(None, None)
        return known

    def _entry(
        self,
        store: ObjectStore,
        version: ObjectVersion,
        known: dict[tuple[str, str], dict[str | None, str | None]],
    ) -> Entry:
        versions = known.get((store.name, version.key), {})
        is_known = version.version_id in versions or None in versions
        if version.is_delete_marker:
            return Entry(store.name, version.key, version.version_id, EMPTY_SHA256, 0, True,
                         is_known)  # fmt: skip
        sha = versions.get(version.version_id)
        locked_until = None
        if store.capabilities.object_lock or not sha:
            head = store.head(version.key, version.version_id)
            sha = sha or head.sha256
            if head.lock is not None:
                locked_until = head.lock.until
        if not sha:
            sha = _hash_bytes(store.get(version.key, version.version_id))
        return Entry(store.name, version.key, version.version_id, sha, version.size, False,
                     is_known, locked_until)  # fmt: skip

    def delete(self, entries: Iterable[Entry], now: datetime) -> tuple[int, list[Entry]]:
        """Delete every entry not locked at ``now``; return (deleted, refused as locked)."""
        by_store: dict[str, list[Entry]] = {}
        for entry in entries:
            if not entry.residual_at(now):
                by_store.setdefault(entry.store, []).append(entry)
        deleted, refused = 0, []
        for name, items in sorted(by_store.items()):
            store = self.store(name)
            pairs = [(e.key, e.version_id) for e in items]
            try:
                deleted += len(store.delete_versions(pairs))
            except LockedVersionsError as locked:
                deleted += len(locked.deleted)
                refused += self._refused(store, items, locked.locked)
        return deleted, refused

    @staticmethod
    def _refused(
        store: ObjectStore, items: list[Entry], locked: list[tuple[str, str]]
    ) -> list[Entry]:
        """The entries a store refused to delete, with the lock end it reports."""
        wanted = set(locked)
        out = []
        for entry in items:
            if (entry.key, entry.version_id) in wanted:
                head = store.head(entry.key, entry.version_id)
                until = head.lock.until if head.lock is not None else None
                out.append(replace(entry, locked_until=until))
        return out

    def abort_uploads(self, client_id: str) -> int:
        """Abort every unfinished upload of the client's own keys, in every store.

        Aborted key by key (the prefix is the key itself), never by the client's prefix:
        that would also abort another store's uploads seen through a nested root.
        """
        aborted = 0
        for name in self.store_names:
            store = self.store(name)
            for key in sorted({upload.key for upload in _uploads(store, client_id)}):
                aborted += store.abort_unfinished_uploads(key)
        return aborted

    def remaining(self, client_id: str, residual: Iterable[Entry]) -> list[str]:
        """What is left that should not be: one line per store (counts and keys only)."""
        allowed = {entry.ident for entry in residual}
        problems = []
        for name in sorted(self.store_names):
            store = self.store(name)
            extra = [
                v
                for v in store.list_versions(client_prefix(client_id))
                if belongs_to(client_id, v.key) and (name, v.key, v.version_id) not in allowed
            ]
            uploads = len(_uploads(store, client_id))
            if extra:
                shown = ", ".join(sorted({v.key for v in extra})[:3])
                problems.append(f"store {name!r}: {len(extra)} version(s) still listed ({shown})")
            if uploads:
                problems.append(f"store {name!r}: {uploads} unfinished upload(s) remain")
        return problems

    def readable(self, entries: Iterable[Entry]) -> list[str]:
        """Deleted versions that can still be read (each must fail with not found).

        One GET per deleted version: at tens of milliseconds a request on S3, 100,000
        versions one after the other would take most of an hour, so ``READ_CHECKS`` of
        them are in flight at once (S3 clients are thread-safe; a folder read shares
        nothing). Problems keep the entries' order.
        """
        # a delete marker has no content to read; the listing covers it
        targets = [entry for entry in entries if not entry.delete_marker]
        stores = {name: self.store(name) for name in {entry.store for entry in targets}}
        with ThreadPoolExecutor(READ_CHECKS, thread_name_prefix="erasure-read") as pool:
            found = list(
                pool.map(lambda entry: _still_readable(stores[entry.store], entry), targets)
            )
        return [problem for problem in found if problem is not None]


def _uploads(store: ObjectStore, client_id: str) -> list[UnfinishedUpload]:
    """The client's own unfinished uploads in ``store``."""
    listed = store.list_unfinished_uploads(client_prefix(client_id))
    return [upload for upload in listed if belongs_to(client_id, upload.key)]


def _still_readable(store: ObjectStore, entry: Entry) -> str | None:
    try:
        chunks = store.get(entry.key, entry.version_id)
    except ObjectNotFoundError:
        return None
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    return f"store {entry.store!r}: {entry.key} (version {entry.version_id}) is still readable"


def _hash_bytes(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
