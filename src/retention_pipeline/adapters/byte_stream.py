"""Turning a caller's byte source into bounded chunks and parts.

Store adapters accept either a binary file object or an iterable of ``bytes``. These
helpers are where the memory bound of the store contract is kept: a chunk never exceeds
the size asked for, even when the caller hands over one huge ``bytes`` object, and a
part holds exactly ``part_size`` bytes (except the last), so at most one part plus one
chunk is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024


def iter_chunks(data: BinaryIO | Iterable[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield non-empty pieces of ``data`` of at most ``chunk_size`` bytes."""
    read = getattr(data, "read", None)
    if callable(read):
        while chunk := read(chunk_size):
            yield bytes(chunk)
        return
    for piece in data:
        if len(piece) <= chunk_size:
            if piece:
                yield bytes(piece)
            continue
        view = memoryview(piece)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])


def iter_parts(data: BinaryIO | Iterable[bytes], part_size: int) -> Iterator[bytes]:
    """Yield ``data`` as parts of exactly ``part_size`` bytes, the last one shorter.

    Yields nothing for empty input, so callers can tell "no bytes" from "one short part".
    """
    buffer = bytearray()
    for chunk in iter_chunks(data, min(part_size, CHUNK_SIZE)):
        buffer += chunk
        if len(buffer) >= part_size:
            with memoryview(buffer) as view:
                part = bytes(view[:part_size])
            del buffer[:part_size]
            yield part
    if buffer:
        yield bytes(buffer)
