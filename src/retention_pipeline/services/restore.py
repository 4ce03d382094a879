"""Read recovery points back: verify them, and restore them (DESIGN section 4, "Restore").

Ordering, which every change here must keep:

1. only a ``complete`` recovery point is read, and only with a hoster key (a client
   that keeps ``hoster_can_decrypt: false`` decrypts its backups itself);
2. the whole object is fetched into a sealed spool while it is hashed, and its size and
   SHA-256 must equal the catalog's before a single byte is decrypted;
3. the decrypted manifest must name the same client and recovery point as the catalog
   row, so a swapped or misfiled object is never restored as someone else's, and hash to
   the row's ``manifest_sha256``, so a forged but self-consistent object (anyone can
   encrypt to the client's public recipient) is never declared sound; every decode
   failure of what follows the decryption is ``RecoveryPointCorruptError``;
4. restore loads tables, then primary keys (PostgreSQL builds the other indexes in a
   second session meanwhile); then, while the indexes and foreign keys are finished, a
   session of its own dumps the target again to compare each table's row count and
   checksum with the manifest (the builds leave the tables readable and change no row);
   then the constraints that need a table to itself, the sequences, the objects that
   must follow the rows (triggers, rules, materialized views...), and the documents;
   last, the target's inventory of schema objects is compared with the manifest's, so a
   lost or altered view, trigger or function fails the verification. A mismatch is
   reported whatever step it was found at.

Step 2 stays whole on purpose (restore issue, item 5, decided in docs/design.md):
decrypting while the object still downloads would save the download's few tenths of a
second, but then rows would reach the target before the object's hash matched, and
keeping them invisible until it did would need the load in one transaction of one
session, which loads at half the speed of the two COPY sessions used now.

Every refusal about the target comes before its first write, and the cheap ones before
the download: a target that is a configured source database is refused before anything
(unless ``--into-source`` names that connection); the target URL is opened and its
emptiness checked (a typo in ``--to`` must not cost the download of a large recovery
point); and the dump's engine is compared with the target's as soon as the schema is
read, before ``--force`` empties anything and before the ``--documents`` folder is made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from retention_pipeline.envelope.age import decrypt_stream
from retention_pipeline.envelope.age_format import IntegrityError
from retention_pipeline.envelope.manifest import Manifest, ManifestError
from retention_pipeline.envelope.readahead import read_ahead
from retention_pipeline.envelope.recovery_point import RecoveryPointReader
from retention_pipeline.envelope.spool import SealedSpool
from retention_pipeline.errors import InvalidInputError, RefusedError, RetentionError
from retention_pipeline.ports.catalog import Catalog, RecoveryPoint
from retention_pipeline.ports.source import (
    APPLY_ALL,
    Dumper,
    Loader,
    RestoreOptions,
    SchemaObject,
    SchemaSnapshot,
    Table,
    TableDump,
    digest_tables,
    inventory_mismatches,
    table_dump_mismatches,
)
from retention_pipeline.ports.store import ObjectStore
from retention_pipeline.services.client_keys import ClientKeyring
from retention_pipeline.services.objects import HashingStream
from retention_pipeline.services.policies import current_policy
from retention_pipeline.services.progress import Meter, Progress

__all__ = ["ReadReport", "RecoveryPointCorruptError", "RestoreOptions", "RestoreService"]


class RecoveryPointCorruptError(RetentionError):
    """The stored object differs from what the catalog recorded when it was written."""


@dataclass(frozen=True)
class ReadReport:
    """What reading a recovery point found (counts only: safe to print and log)."""

    recovery_point_id: str
    client_id: str
    engine: str | None
    tables: int
    rows: int
    documents: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems


@dataclass
class RestoreService:
    """Fetch, check, decrypt and load recovery points; injected by bootstrap."""

    catalog: Catalog
    keyring: ClientKeyring
    store: Callable[[str], ObjectStore]
    open_loader: Callable[[str], Loader]
    open_dumper: Callable[[str], Dumper]
    scratch: Callable[[], BinaryIO]
    # (target URL, the connection the operator vouches for) -> the configured source
    # connections whose database the target is (bootstrap.Installation.sources_at)
    sources_at: Callable[[str, str | None], list[str]]

    def verify(self, rp_id: str, *, progress: Progress | None = None) -> ReadReport:
        """Fetch, check the SHA-256, decrypt and check every checksum; write nothing.

        Progress phases: ``download`` (bytes of the stored object), then ``check``
        (bytes of table data and documents decrypted and checked).
        """
        rp = self._readable(rp_id)
        with self.scratch() as scratch:
            reader = self._open(rp, scratch, progress)
            manifest = reader.manifest
            check = Meter(progress, "check", _table_bytes(manifest) + _document_bytes(manifest))
            with _corruption(rp):
                for table in manifest.tables:
                    drain(check.watch(reader.table_data(table)))
                for doc in manifest.documents:
                    drain(check.watch(reader.document_data(doc)))
                reader.finish()
        return _report(rp, reader, _inventory_problems(manifest))

    def restore(
        self,
        rp_id: str,
        target_url: str,
        *,
        documents_to: Path | None = None,
        force: bool = False,
        into_source: str | None = None,
        options: RestoreOptions = APPLY_ALL,
        progress: Progress | None = None,
    ) -> ReadReport:
        """Load the recovery point into an empty database, then verify the result.

        A target that is a configured source database is refused unless ``into_source``
        names that very connection (``_refuse_a_source``). ``options`` says whether owners
        and grants are applied; what the loader skipped is in the report's notes. Progress
        phases: ``download``, ``load`` (bytes of table data sent to the target), ``verify``
        (bytes of the target re-dumped), ``documents`` (bytes written).
        """
        _refuse_a_source(self.sources_at(target_url, into_source), into_source)
        rp = self._readable(rp_id)
        if documents_to is not None:
            _refuse_non_folder(documents_to, documents_to)
        with self.open_loader(target_url) as loader:
            _refuse_non_empty(loader, force)
            target_engine = loader.engine
        with self.scratch() as scratch:
            reader = self._open(rp, scratch, progress)
            manifest = reader.manifest
            if reader.schema_json is None:
                if manifest.tables:
                    raise RecoveryPointCorruptError(f"recovery point {rp_id}: no schema member")
                snapshot = None
            else:
                with _corruption(rp):
                    snapshot = _schema(reader.schema_json)
            # every refusal comes before the first write: a refused restore changes nothing
            if snapshot is not None and snapshot.engine != target_engine:
                raise RefusedError(
                    f"the recovery point holds a {snapshot.engine} database and the target "
                    f"is {target_engine}; restore into an empty {snapshot.engine} database"
                )
            _check_documents_target(reader, documents_to, force)
            if documents_to is not None and manifest.documents:
                _make_folder(documents_to)  # the last refusal: a folder no one may create
            actual: list[TableDump] = []
            objects: tuple[SchemaObject, ...] = ()
            skipped: tuple[str, ...] = ()
            with _corruption(rp):
                if snapshot is not None:
                    actual, objects, skipped = self._load(
                        reader, snapshot, target_url, force, options, progress
                    )
                self._write_documents(reader, documents_to, force, progress)
                reader.finish()
        problems = _inventory_problems(manifest)
        if snapshot is not None:
            expected = [TableDump(t.name, t.rows, t.sha256, t.data_format) for t in manifest.tables]
            problems += table_dump_mismatches(expected, actual)
            if manifest.records_inventory:
                recorded = [SchemaObject(o.kind, o.name, o.sha256) for o in manifest.objects]
                problems += inventory_mismatches(recorded, objects)
        return _report(rp, reader, problems, [f"skipped {line}" for line in skipped])

    def _load(
        self,
        reader: RecoveryPointReader,
        snapshot: SchemaSnapshot,
        target_url: str,
        force: bool,
        options: RestoreOptions,
        progress: Progress | None,
    ) -> tuple[list[TableDump], tuple[SchemaObject, ...], tuple[str, ...]]:
        """Load every phase (source port order); return the verification's readings.

        Those are the re-dump's digests, the target's inventory of schema objects and what
        the loader skipped on purpose (``Loader.skipped``). The
        re-dump runs in its own thread and session during the ``indexes`` phase: on a
        large table both take seconds, and they use different cores. Its session is closed
        before the ``constraints`` phase, which needs the tables to itself. The inventory
        is read once every phase has run, through a session of its own.
        """
        tables = [snapshot.table(entry.name) for entry in reader.manifest.tables]
        with self.open_loader(target_url) as loader:
            if not _refuse_non_empty(loader, force):
                loader.clear()
            loader.create_schema(snapshot, phase="tables", options=options)
            load = Meter(progress, "load", _table_bytes(reader.manifest))
            for entry, table in zip(reader.manifest.tables, tables, strict=True):
                loader.load_table(table, load.watch(reader.table_data(entry)))
            loader.create_schema(snapshot, phase="keys", options=options)
            # leaving the block waits for the re-dump, also when a build failed
            with ThreadPoolExecutor(1, thread_name_prefix="restore-verify") as pool:
                check = Meter(progress, "verify", _table_bytes(reader.manifest))
                verification = pool.submit(self._digest, target_url, tables, check)
                loader.create_schema(snapshot, phase="indexes", options=options)
            actual = verification.result()
            loader.create_schema(snapshot, phase="constraints", options=options)
            loader.set_sequences(snapshot)
            loader.create_schema(snapshot, phase="objects", options=options)
            skipped = loader.skipped()
        with self.open_dumper(target_url) as dumper:
            objects = dumper.inventory()
        return actual, objects, skipped

    def _digest(self, target_url: str, tables: list[Table], meter: Meter) -> list[TableDump]:
        with self.open_dumper(target_url) as dumper:
            return digest_tables(dumper, tables, on_chunk=meter.add)

    def _readable(self, rp_id: str) -> RecoveryPoint:
        """The catalog row, refused unless it is complete and the hoster may decrypt it.

        The hoster may not when the client's policy says so now, nor when the point was
        taken while it said so (its recorded recipients lack the hoster's key): telling
        that here keeps such a point from failing later as if it had been tampered with.
        """
        rp = self.catalog.get_recovery_point(rp_id)
        if rp.status != "complete":
            raise RefusedError(
                f"recovery point {rp_id} is {rp.status}; only complete recovery points "
                "can be read (list them with: retention-pipeline points)"
            )
        own_identity = "the client restores them with its own age identity (age -d -i KEYFILE)"
        policy = current_policy(self.catalog, rp.client_id)
        if policy is not None and not policy.protection.hoster_can_decrypt:
            raise RefusedError(
                f"client {rp.client_id!r} keeps hoster_can_decrypt: false, so the hoster "
                f"cannot decrypt its backups; {own_identity}"
            )
        if self.keyring.excludes_hoster(rp):
            raise RefusedError(
                f"recovery point {rp.id} was encrypted to the client's own recipients only "
                f"(hoster_can_decrypt was false when it was taken), so the hoster cannot "
                f"decrypt it; {own_identity}"
            )
        return rp

    def _open(
        self, rp: RecoveryPoint, scratch: BinaryIO, progress: Progress | None
    ) -> RecoveryPointReader:
        identity = self.keyring.identity_for(rp.client_id)
        spool = self._fetch(rp, scratch, Meter(progress, "download", rp.size))
        with _corruption(rp):
            reader = RecoveryPointReader(decrypt_stream([identity], spool.read_back()))
        reader.manifest.check_identity(rp.client_id, rp.id)
        if reader.manifest_sha256 != rp.manifest_sha256:
            # the object's hash matched, so the catalog row and the object were both
            # replaced (or the row lost its manifest checksum): the manifest decides what
            # is checked, so one the backup did not write is never trusted
            raise RecoveryPointCorruptError(
                f"recovery point {rp.id} of client {rp.client_id!r} cannot be read: its "
                "manifest differs from the one the backup recorded in the catalog; it was "
                "swapped or altered; use another recovery point "
                f"(retention-pipeline points {rp.client_id})"
            )
        return reader

    def _fetch(self, rp: RecoveryPoint, scratch: BinaryIO, download: Meter) -> SealedSpool:
        """Download the object into a sealed spool; its hash must match before decrypting.

        The download runs ahead in a background thread (network reads overlap hashing and
        sealing); nothing is decrypted until the whole object has arrived and matched.
        """
        spool = SealedSpool(scratch)
        fetched = HashingStream(
            download.watch(read_ahead(self.store(rp.store).get(rp.key, rp.version_id)))
        )
        for chunk in fetched:
            spool.write(chunk)
        if (fetched.size, fetched.sha256) != (rp.size, rp.sha256):
            raise RecoveryPointCorruptError(
                f"recovery point {rp.id}: the stored object's size or SHA-256 differs from "
                "the catalog's; it was altered or replaced, and is not decrypted"
            )
        return spool

    def _write_documents(
        self,
        reader: RecoveryPointReader,
        folder: Path | None,
        force: bool,
        progress: Progress | None,
    ) -> None:
        """Write documents under ``folder``; never outside it, never over files unasked.

        Each goes to a hidden temporary name beside its target and is renamed only once
        its bytes matched the manifest's SHA-256, so a document that fails its check is
        never left under its real name looking restored.
        """
        if not reader.manifest.documents:
            return
        written = Meter(progress, "documents", _document_bytes(reader.manifest))
        for doc in reader.manifest.documents:
            data = written.watch(reader.document_data(doc))
            if folder is None:
                drain(data)
                continue
            target = _inside(folder, doc.path, doc.member)
            if os.path.lexists(target) and not force:
                raise RefusedError(
                    f"document {doc.member} would overwrite an existing file in {folder}; "
                    "restore into an empty folder or pass --force"
                )
            # a short temporary name: the document's own may already be 255 bytes long
            partial = target.with_name(f".rp-{uuid.uuid4().hex}.partial")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with partial.open("wb") as handle:
                    for chunk in data:
                        handle.write(chunk)
                partial.replace(target)
            except OSError as error:  # its text names the path, which may name a person
                raise InvalidInputError(
                    f"--documents {folder}: document {doc.member} could not be written "
                    f"({error.strerror or type(error).__name__}); give a folder this user "
                    "may write, with room for the documents"
                ) from None
            finally:
                partial.unlink(missing_ok=True)


def _refuse_a_source(sources: list[str], into_source: str | None) -> None:
    """Refuse a target that is a client's live source, unless the operator named it.

    ``restore --force`` there would replace the client's live CRM with an older copy:
    a typo or a pasted URL must not do that. The operator says it is meant by naming the
    connection (``--into-source NAME``), and the name must be the target's, so it cannot
    be a habit passed to every restore. Messages name connections, never URLs (they hold
    passwords).
    """
    if into_source is None:
        if sources:
            names = ", ".join(repr(s) for s in sources)
            raise RefusedError(
                f"--to is the database of source connection {names} (retention.yaml "
                "connections:); a restore there replaces the client's live data; to do "
                f"that on purpose, add --into-source {sources[0]}"
            )
        return
    if into_source not in sources:
        which = (
            f"it is the database of connection {', '.join(repr(s) for s in sources)}"
            if sources
            else "it is no configured connection's database"
        )
        raise RefusedError(
            f"--into-source {into_source}: --to is not that connection's database ({which}); "
            "check --to, or leave --into-source out to restore into another database"
        )


# Two tables every retention-pipeline catalog has, whatever its revision.
_CATALOG_TABLES = ("recovery_points", "evidence_log")


def _refuse_non_empty(loader: Loader, force: bool) -> bool:
    """Whether the target is empty; refuses a non-empty one unless ``force``.

    A database holding a retention-pipeline catalog (this installation's under another
    spelling of its URL, or any other's) is refused even with ``force``: asking the
    database itself catches what no comparison of URLs can (host aliases, links).
    """
    if all(loader.has_table(name) for name in _CATALOG_TABLES):
        raise InvalidInputError(
            "the target database holds a retention-pipeline catalog (its recovery points "
            "and evidence log); restore into another database"
        )
    if loader.is_empty():
        return True
    if not force:
        raise RefusedError(
            "the target database is not empty; restore into an empty "
            "database, or pass --force to replace everything in it"
        )
    return False


def _check_documents_target(reader: RecoveryPointReader, folder: Path | None, force: bool) -> None:
    """Refuse, before anything is written, documents that leave or would overwrite."""
    if folder is None:
        return
    for doc in reader.manifest.documents:
        target = _inside(folder, doc.path, doc.member)
        _refuse_non_folder(target.parent, folder, doc.member)
        if target.is_dir():
            raise RefusedError(
                f"document {doc.member} would replace a folder in {folder}; restore into an "
                "empty folder"
            )
        if os.path.lexists(target) and not force:
            raise RefusedError(
                f"document {doc.member} would overwrite an existing file in {folder}; "
                "restore into an empty folder or pass --force"
            )


@contextmanager
def _corruption(rp: RecoveryPoint) -> Iterator[None]:
    """Name the recovery point in every decode failure (age, zstd, tar, manifest, checksums).

    The SHA-256 matched the catalog before this point, so a failure here means the
    object was written for another key or another backup, or altered before it was
    recorded; the envelope's message names the part, we add which recovery point.
    """
    try:
        yield
    except (IntegrityError, ManifestError) as error:
        raise RecoveryPointCorruptError(
            f"recovery point {rp.id} of client {rp.client_id!r} cannot be read: {error}; "
            "it was swapped, misfiled or altered; use another recovery point "
            f"(retention-pipeline points {rp.client_id})"
        ) from None


def _schema(text: bytes) -> SchemaSnapshot:
    """The schema member parsed; one that does not parse is a corrupt recovery point.

    Its checksum matched the manifest's, whose own matched the catalog's, so this takes a
    backup that wrote a bad schema; it still must not end in a traceback.
    """
    try:
        return SchemaSnapshot.from_json(text)
    except RecursionError:
        raise ManifestError("schema.json is nested too deep") from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ManifestError(f"schema.json is malformed ({type(error).__name__})") from None


def _make_folder(folder: Path) -> None:
    """Create the documents folder before the first write to the database.

    A folder this user may not create (read-only, ``/proc``) then fails the restore with
    nothing written, instead of after the load with a traceback. Not done earlier: a
    restore refused for another reason must leave no folder behind either.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInputError(
            f"--documents {folder}: cannot create the folder ({error.strerror}); "
            "give a folder this user may write"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(
            f"--documents {folder}: this user may not write into the folder; give a "
            "folder this user may write"
        )


def _refuse_non_folder(path: Path, folder: Path, member: str | None = None) -> None:
    """Refuse when ``path`` or one of its parents exists but is not a folder.

    Checked before anything is written: a file where a folder must go would otherwise stop
    the restore half-way, after the database was loaded.
    """
    for candidate in (path, *path.parents):
        if candidate.exists():
            if candidate.is_dir():
                return
            if member is not None:  # a name inside the folder: the client's, never shown
                raise InvalidInputError(
                    f"--documents {folder}: document {member} cannot be written, a file in "
                    "the folder stands where its folder must go; restore into an empty folder"
                )
            raise InvalidInputError(
                f"--documents {folder}: the documents cannot be written, {candidate} is a "
                "file, not a folder; give a folder (it is created if missing)"
            )


def _inside(folder: Path, relative: str, member: str) -> Path:
    """Where a document goes: its folder resolved inside ``folder``, its name as stored.

    The name itself is not resolved: a link already standing there is replaced by the
    document (with ``--force``), never written through to whatever it points at.
    """
    root = folder.resolve()
    joined = root / relative
    parent = joined.parent.resolve()
    if not parent.is_relative_to(root) or joined.name in ("", ".", ".."):
        raise RecoveryPointCorruptError(
            f"document {member}: its path leads outside the documents folder (a '..' in "
            "it, or a link in the folder); refusing to write it"
        )
    return parent / joined.name


def _inventory_problems(manifest: Manifest) -> list[str]:
    """A manifest of the inventory's format must carry one wherever it holds tables.

    Every table is an object of the inventory, so tables without one mean the manifest
    was cut or forged; a restore from it could not prove the schema came back whole.
    """
    if manifest.records_inventory and manifest.tables and not manifest.objects:
        return ["the manifest records tables but no inventory of schema objects"]
    return []


def _report(
    rp: RecoveryPoint,
    reader: RecoveryPointReader,
    problems: list[str],
    skipped: list[str] | None = None,
) -> ReadReport:
    manifest = reader.manifest
    notes = list(skipped or [])
    if manifest.engine is not None and not manifest.records_inventory:
        notes.append(
            f"schema objects not checked: this recovery point (manifest version "
            f"{manifest.format_version}) predates the schema inventory, so only its tables' "
            "rows were verified; views, triggers and routines may be missing"
        )
    return ReadReport(
        rp.id,
        rp.client_id,
        manifest.engine,
        len(manifest.tables),
        manifest.total_rows,
        len(manifest.documents),
        problems,
        notes,
    )


def _table_bytes(manifest: Manifest) -> int:
    return sum(table.size for table in manifest.tables)


def _document_bytes(manifest: Manifest) -> int:
    return sum(doc.size for doc in manifest.documents)


def drain(chunks: Iterator[bytes]) -> None:
    """Consume a stream for its checks only."""
    for _ in chunks:
        pass
