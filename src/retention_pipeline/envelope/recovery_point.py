"""Assemble and read the plaintext of a recovery point: a zstd-compressed tar.

Layout (``docs/format.md``): ``manifest.json`` first, then ``schema.json``, then each
table's data as members ``tables/NNNN/MMMMMM.dat`` (at most 4 MiB each, concatenated in
order they give the table's dump bytes), then ``documents/<relative path>``. The whole
tar is compressed with zstd (possibly as several concatenated frames, which every zstd
decoder reads as one stream), then encrypted with age by the caller.

Reading treats the plaintext as hostile (it decrypted, so it was encrypted to the client's
key, but anyone can do that with the public recipient): every decode failure of zstd, tar
or JSON is a ``ManifestError``, and what is held in memory is bounded. The manifest and
schema members are read whole, so each may be at most ``MAX_WHOLE_MEMBER`` bytes (the
writer refuses to write a larger one); tar extended headers may be at most
``MAX_TAR_HEADER`` bytes, and the header kinds this writer never emits (global pax, GNU
long names, sparse files) are refused, since tarfile would buffer them whole.

Writing takes two passes, because the manifest (first member) holds checksums only known
at the end: pass one compresses schema, tables and documents into a ``SealedSpool``;
pass two emits the manifest frame, the spool, and the end-of-archive frame. Memory stays
bounded by one data member plus the compressor's window.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import IO, BinaryIO, NoReturn, cast

import zstandard

from retention_pipeline.envelope import tarstream
from retention_pipeline.envelope.manifest import (
    MANIFEST_MEMBER,
    SCHEMA_MEMBER,
    DocumentEntry,
    Manifest,
    ManifestError,
    TableEntry,
)
from retention_pipeline.envelope.readahead import read_ahead
from retention_pipeline.envelope.spool import SealedSpool
from retention_pipeline.errors import RetentionError

# Level 1, measured on COPY text of a CRM (benchmarks/README.md): 2x the speed of level 3
# and no bigger (42.8 vs 45.2 MB for 217 MB), already below pg_dump -Fc's zlib output.
ZSTD_LEVEL = 1
READ_SIZE = 1024 * 1024
# The manifest and schema are parsed whole; 256 MiB of manifest is some 1.5 million
# documents. A forged size larger than this would otherwise be read into memory.
MAX_WHOLE_MEMBER = 256 * 1024 * 1024
# Our pax headers hold one path (at most a few KiB); tarfile reads each header whole.
MAX_TAR_HEADER = 1024 * 1024


class DocumentModifiedError(Exception):
    """A document was replaced (another file, a link, a pipe) or written to while read."""


class DocumentChangedError(RetentionError):
    """A document changed, moved or became unreadable between listing and packing.

    The message names the member and its rank in the folder's sorted listing, never the
    file's path: document names often carry a person's name, and this text reaches logs.
    """

    def __init__(self, member: str, number: int, cause: BaseException) -> None:
        then = "retry the backup when the folder is not being written to"
        if isinstance(cause, OSError):  # unreadable, moved or deleted meanwhile, I/O error
            what = f"could not be read ({cause.strerror or type(cause).__name__})"
            if isinstance(cause, PermissionError):
                then = "check that this worker may read every file of the folder, then retry"
        elif isinstance(cause, DocumentModifiedError):
            what = "was replaced or written to while it was read"
        else:
            what = "changed size while it was read"
        super().__init__(
            f"document {member} (file {number + 1} of the documents folder, in sorted order) "
            f"{what}; nothing was stored: {then}"
        )


@dataclass(frozen=True)
class TableSource:
    """A table to pack: its name, its dump format, and a one-shot stream of its data."""

    name: str
    data_format: str
    chunks: Iterable[bytes]


@dataclass(frozen=True)
class DocumentSource:
    """A document file to pack, by its path relative to the documents folder."""

    path: str
    open: Callable[[], BinaryIO]
    size: int


class DocumentsUnreadableError(RetentionError):
    """Part of the documents folder could not be listed; nothing is packed then.

    A folder that cannot be listed would otherwise be left out of the backup without a
    word. The message gives the system's reason, never the path (names carry people's).
    """

    def __init__(self, cause: OSError) -> None:
        super().__init__(
            "the documents folder could not be read in full (a folder or file in it: "
            f"{cause.strerror or type(cause).__name__}); nothing was stored: check that "
            "this worker may list and read every folder and file in it, then retry"
        )


def documents_in(folder: Path) -> list[DocumentSource]:
    """Every regular file under ``folder``, sorted; links and special files are skipped.

    Following a link could pack another client's files into this client's backup. A
    folder that cannot be listed or entered fails the listing (``DocumentsUnreadableError``)
    instead of being skipped.
    """

    def refuse(error: OSError) -> NoReturn:
        raise DocumentsUnreadableError(error) from None

    found: list[DocumentSource] = []
    for root, _, files in os.walk(folder, onerror=refuse):
        for name in files:
            path = Path(root, name)
            try:
                listed = path.lstat()
            except OSError as error:
                refuse(error)
            if not stat.S_ISREG(listed.st_mode):
                continue  # a symbolic link, a pipe, a socket, a device
            rel = path.relative_to(folder).as_posix()
            found.append(DocumentSource(rel, partial(_open_listed, path, listed), listed.st_size))
    return sorted(found, key=lambda doc: doc.path.split("/"))


def _open_listed(path: Path, listed: os.stat_result) -> BinaryIO:
    """Open the very file that was listed: not a link, a pipe or another file put there.

    ``O_NOFOLLOW`` refuses a link put in its place (it could point at another client's
    file), ``O_NONBLOCK`` keeps a pipe from blocking the open, and the device and inode
    must be the listed ones.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
        listed.st_dev,
        listed.st_ino,
    ):
        os.close(fd)
        raise DocumentModifiedError
    return os.fdopen(fd, "rb")


def _table_member_name(table_number: int, index: int) -> str:
    return f"tables/{table_number:04d}/{index:06d}.dat"


class _Digest:
    """Counts bytes, rows (newline-terminated records) and SHA-256 of a passing stream."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.rows = 0

    def watch(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.sha.update(chunk)
            self.size += len(chunk)
            self.rows += chunk.count(b"\n")
            yield chunk


def _file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file's bytes; a file written to while it was read fails (it would be torn).

    Its size is checked by the tar member; a write that keeps the size shows in the
    modification time, compared before and after the read.
    """
    with handle:
        before = _modified(handle)
        while block := handle.read(READ_SIZE):
            yield block
        if _modified(handle) != before:
            raise DocumentModifiedError


def _modified(handle: BinaryIO) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_mtime_ns
    except (OSError, io.UnsupportedOperation):  # not a file of the system (a test's bytes)
        return None


def pack(
    manifest: Manifest,
    schema_json: bytes | None,
    tables: Iterable[TableSource],
    documents: Iterable[DocumentSource],
    spool: SealedSpool,
    *,
    level: int = ZSTD_LEVEL,
    chunk_size: int = tarstream.DEFAULT_CHUNK,
    on_read: Callable[[int], None] | None = None,
) -> tuple[Manifest, Plaintext]:
    """Pass one into ``spool``; return the completed manifest and the pass-two stream.

    ``manifest`` carries identity and source fields; tables, documents and the schema
    checksum are filled in here. The returned stream yields the compressed plaintext
    of the whole recovery point, manifest first. Each table is read ahead in a background
    thread (``readahead``), so the dump and the compression run on both cores.
    ``on_read`` is told the length of every table and document chunk as it is packed
    (progress: pass one of a large database takes minutes).
    """
    count = on_read or _ignore
    writer = zstandard.ZstdCompressor(level=level).stream_writer(
        cast(IO[bytes], spool), closefd=False
    )
    schema_sha = None
    if schema_json is not None:
        _refuse_too_large(SCHEMA_MEMBER, len(schema_json))
        schema_sha = hashlib.sha256(schema_json).hexdigest()
        writer.write(tarstream.member(SCHEMA_MEMBER, schema_json))
    entries: list[TableEntry] = []
    for number, table in enumerate(tables):
        digest = _Digest()
        members: list[str] = []
        for piece in tarstream.chunked_members(
            partial(_table_member_name, number),
            digest.watch(_counted(read_ahead(table.chunks), count)),
            chunk_size=chunk_size,
            on_member=members.append,
        ):
            writer.write(piece)
        entries.append(
            TableEntry(
                table.name,
                digest.rows,
                digest.sha.hexdigest(),
                table.data_format,
                tuple(members),
                digest.size,
            )
        )
    docs: list[DocumentEntry] = []
    for number, doc in enumerate(documents):
        digest = _Digest()
        name = f"documents/{number:06d}"
        try:
            chunks = _counted(_file_chunks(doc.open()), count)
            for piece in tarstream.file_member(name, doc.size, digest.watch(chunks)):
                writer.write(piece)
        except (OSError, tarstream.MemberSizeError, DocumentModifiedError) as error:
            raise DocumentChangedError(name, number, error) from None
        docs.append(DocumentEntry(doc.path, name, doc.size, digest.sha.hexdigest()))
    writer.flush(zstandard.FLUSH_FRAME)
    spool.flush()
    done = replace(manifest, schema_sha256=schema_sha, tables=tuple(entries), documents=tuple(docs))
    return done, Plaintext(done, spool, level)


def _refuse_too_large(name: str, size: int) -> None:
    """A member read whole must stay readable: refuse to write what no reader would read."""
    if size > MAX_WHOLE_MEMBER:
        raise ManifestError(
            f"{name} would be {size} bytes, more than the {MAX_WHOLE_MEMBER} a recovery point "
            "may hold; nothing was stored: split the client's documents or schemas into "
            "several clients"
        )


def _ignore(count: int) -> None:
    """No one is counting."""


def _counted(chunks: Iterable[bytes], count: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        count(len(chunk))
        yield chunk


class Plaintext:
    """Pass two: the manifest frame, the spool, the end-of-archive frame, read once.

    Its ``size`` is exact before the first byte is read, so an upload can show how far
    it has got; the two small frames are compressed up front for that.
    """

    def __init__(self, manifest: Manifest, spool: SealedSpool, level: int) -> None:
        compressor = zstandard.ZstdCompressor(level=level)
        manifest_json = manifest.to_bytes()
        _refuse_too_large(MANIFEST_MEMBER, len(manifest_json))
        self._head = compressor.compress(tarstream.member(MANIFEST_MEMBER, manifest_json))
        self._tail = compressor.compress(tarstream.END_OF_ARCHIVE)
        self._spool = spool
        self.size = len(self._head) + spool.size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        yield from self._spool.read_back()
        yield self._tail


class IterReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (for zstd and tarfile readers)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


_HEADER_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_REFUSED_TYPES = (tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, *tarfile.GNU_TYPES)


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header that refuses what tarfile would read whole into memory.

    An extended header's data are buffered before they are parsed, and a global one's
    keys accumulate for the rest of the stream; a forged size or a chain of them would
    hold as much memory as the decompressed stream (which zstd can make huge from a few
    bytes). This writer emits only regular files with a small per-file pax header.
    """

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _REFUSED_TYPES:
            raise tarfile.HeaderError(f"tar header of a kind never written ({self.type!r})")
        if self.type in _HEADER_TYPES and self.size > MAX_TAR_HEADER:
            raise tarfile.HeaderError(f"tar extended header of {self.size} bytes")
        processed: tarfile.TarInfo = super()._proc_member(archive)  # type: ignore[misc]
        return processed


# What zstd, tarfile and the member checks raise for bytes they cannot decode. OSError is
# not among them: it is the spool's disk, not the recovery point (tarfile's own decode
# errors are TarError, never a bare OSError, in stream mode).
_DECODE_ERRORS = (zstandard.ZstdError, tarfile.TarError, EOFError, UnicodeError)


@contextmanager
def _decoding(what: str) -> Iterator[None]:
    """Turn a decode failure of zstd or tar into the reader's one error, ``ManifestError``.

    The libraries' messages are fixed texts ("bad checksum", "Data corruption detected"),
    never the data; they are kept so the report says which layer failed.
    """
    try:
        yield
    except _DECODE_ERRORS as error:
        layer = "zstd" if isinstance(error, zstandard.ZstdError) else "tar"
        raise ManifestError(
            f"{what}: the compressed tar cannot be decoded ({layer}: {error})"
        ) from None


class RecoveryPointReader:
    """Read a recovery point's compressed plaintext member by member, checking as it goes.

    Members must come in the documented order; each table's and document's bytes are
    hashed while they stream past and compared with the manifest when they end, so a
    consumer (restore, verify) learns of a mismatch before it declares success. Every
    failure to decode raises ``ManifestError``, whichever layer (zstd, tar, JSON) failed.
    ``manifest_sha256`` is the SHA-256 of the manifest member as stored, which the backup
    recorded in the catalog.
    """

    def __init__(self, compressed: Iterable[bytes]) -> None:
        raw = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], IterReader(compressed)), read_across_frames=True
        )
        with _decoding("the recovery point's first member"):
            # bufsize: tarfile reads its stream in blocks of this size (10 KiB by default,
            # which costs some 20,000 calls into the decompressor per 200 MB)
            self._tar = tarfile.open(  # noqa: SIM115
                fileobj=raw, mode="r|", bufsize=READ_SIZE, tarinfo=_BoundedTarInfo
            )
            self._members = iter(self._tar)
            first = next(self._members, None)
            if first is None or first.name != MANIFEST_MEMBER:
                raise ManifestError("the recovery point does not start with manifest.json")
            manifest_json = self._read(first)
        self.manifest_sha256 = hashlib.sha256(manifest_json).hexdigest()
        self.manifest = Manifest.from_bytes(manifest_json)
        self.schema_json: bytes | None = None
        if self.manifest.schema_sha256 is not None:
            with _decoding(f"member {SCHEMA_MEMBER}"):
                self.schema_json = self._read(self._expect(SCHEMA_MEMBER))
            if hashlib.sha256(self.schema_json).hexdigest() != self.manifest.schema_sha256:
                raise ManifestError("schema.json does not match the manifest's checksum")

    def _read(self, member: tarfile.TarInfo) -> bytes:
        """A small member's bytes, whole (the manifest, the schema)."""
        if member.size > MAX_WHOLE_MEMBER:
            raise ManifestError(
                f"member {member.name} declares {member.size} bytes, more than the "
                f"{MAX_WHOLE_MEMBER} a recovery point's {member.name} may hold"
            )
        handle = self._tar.extractfile(member)
        if handle is None:
            raise ManifestError(f"member {member.name} is not a regular file")
        return handle.read()

    def _stream(self, member: tarfile.TarInfo) -> Iterator[bytes]:
        with _decoding(f"member {member.name}"):
            handle = self._tar.extractfile(member)
            if handle is None:
                raise ManifestError(f"member {member.name} is not a regular file")
            while block := handle.read(READ_SIZE):
                yield block

    def _expect(self, name: str) -> tarfile.TarInfo:
        with _decoding(f"the header of member {name}"):
            member = next(self._members, None)
        if member is None or member.name != name:
            got = member.name if member else "end of archive"
            raise ManifestError(f"expected member {name}, found {got}")
        return member

    def table_data(self, table: TableEntry) -> Iterator[bytes]:
        """The table's dump bytes; raises ``ManifestError`` at the end if they differ."""
        digest = _Digest()
        for name in table.members:
            yield from digest.watch(self._stream(self._expect(name)))
        if digest.sha.hexdigest() != table.sha256 or digest.rows != table.rows:
            raise ManifestError(f"table {table.name}: data do not match the manifest")

    def document_data(self, doc: DocumentEntry) -> Iterator[bytes]:
        """A document's bytes; raises ``ManifestError`` at the end if they differ."""
        digest = _Digest()
        yield from digest.watch(self._stream(self._expect(doc.member)))
        if digest.sha.hexdigest() != doc.sha256 or digest.size != doc.size:
            raise ManifestError(f"document {doc.member}: data do not match the manifest")

    def finish(self) -> None:
        """Check that nothing follows the last documented member, then close.

        The archive must end with its end-of-archive block: tarfile takes the end of the
        stream for one, and zstd returns nothing of a frame cut short, so a stream whose
        last frame was truncated would otherwise read as whole.
        """
        with _decoding("the end of the archive"):
            extra = next(self._members, None)
            # next() read one header block where the next member would start: a zero
            # block of 512 bytes, or less when the stream ended there
            ended = self._tar.fileobj.tell() - self._tar.offset if self._tar.fileobj else 0
            self._tar.close()
        if extra is not None:
            raise ManifestError(f"unexpected member {extra.name} after the documented ones")
        if ended != tarstream.BLOCK:
            raise ManifestError("the recovery point ends without its end-of-archive blocks")
