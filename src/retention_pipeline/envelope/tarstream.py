"""A streaming tar (POSIX pax) writer whose members can be emitted one at a time.

Why not ``tarfile`` in ``w|`` mode: a recovery point is assembled in two passes (the
manifest, which must be the first member, is only known once every table has been
dumped), so the archive is built from separately produced pieces: the manifest member,
then the already written data members, then the end-of-archive blocks. Each piece is
plain tar bytes, so the concatenation is an ordinary tar that ``tar -x`` reads.

Table data arrive as a stream of unknown length, while a tar header needs the member's
size first; ``ChunkedMember`` therefore cuts a stream into members of at most
``chunk_size`` bytes, holding one chunk in memory at a time.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterable, Iterator

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
DEFAULT_CHUNK = 4 * 1024 * 1024


class MemberSizeError(ValueError):
    """A member's data did not add up to the size its header already declared."""


def member_header(name: str, size: int, *, mtime: int = 0, mode: int = 0o600) -> bytes:
    """The header block(s) of a regular file member, in pax format (long UTF-8 names)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = mode
    info.type = tarfile.REGTYPE
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    """NUL bytes that bring a member's data up to a whole block."""
    return b"\0" * (-size % BLOCK)


def member(name: str, data: bytes, *, mtime: int = 0) -> bytes:
    """A whole small member (header, data and padding) as bytes."""
    return member_header(name, len(data), mtime=mtime) + data + padding(len(data))


def file_member(
    name: str, size: int, chunks: Iterable[bytes], *, mtime: int = 0
) -> Iterator[bytes]:
    """Stream a member whose size is known up front (a document file).

    Raises ``MemberSizeError`` if the chunks do not add up to ``size`` (the file changed
    while it was read), because a wrong size would corrupt every member after it.
    """
    yield member_header(name, size, mtime=mtime)
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > size:
            raise MemberSizeError(f"member {name}: grew while it was read")
        yield chunk
    if seen != size:
        raise MemberSizeError(f"member {name}: shrank while it was read")
    yield padding(size)


def chunked_members(
    name_of: Callable[[int], str],
    chunks: Iterable[bytes],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    on_member: Callable[[str], None] | None = None,
) -> Iterator[bytes]:
    """Cut a stream of unknown length into members of at most ``chunk_size`` bytes.

    ``name_of(i)`` names the i-th member; ``on_member`` is told each name, so the caller
    can list the members in the manifest. At least one member is written, so an empty
    table still has a (zero-length) data member.
    """
    buffer = bytearray()
    index = 0

    def flush() -> Iterator[bytes]:
        # Header, data and padding go out as separate pieces: joining them would copy
        # every byte of the table once more for nothing.
        nonlocal index
        name = name_of(index)
        index += 1
        if on_member is not None:
            on_member(name)
        data = bytes(buffer)
        buffer.clear()
        yield member_header(name, len(data))
        yield data
        if tail := padding(len(data)):
            yield tail

    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            room = chunk_size - len(buffer)
            buffer += view[:room]
            view = view[room:]
            if len(buffer) == chunk_size:
                yield from flush()
    if buffer or index == 0:
        yield from flush()
