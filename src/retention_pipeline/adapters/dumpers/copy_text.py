"""PostgreSQL COPY text format, written and read in Python for the MariaDB and SQLite dumps.

Rules this module enforces (``docs/dump-formats.md`` has the full format):

* one line per row, ended by ``\\n``; fields separated by ``\\t``;
* NULL is ``\\N``; inside a value, backslash, tab, newline and carriage return are written
  ``\\\\``, ``\\t``, ``\\n``, ``\\r`` (so a literal text ``\\N`` is written ``\\\\N``, and
  a raw newline byte always ends a row, which is how rows are counted);
* a binary value is its bytea hex text ``\\x0a1b...`` and then escaped like any other text,
  so it appears as ``\\\\x0a1b`` exactly as PostgreSQL's own COPY prints a ``bytea``.

Reading accepts the whole COPY escape grammar (``\\b \\f \\v``, octal, ``\\xHH``) so that a
file PostgreSQL wrote is read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

NULL = b"\\N"
CHUNK_SIZE = 256 * 1024
# A row-by-row loader's batch ends at this much dump text, whatever its row count.
BATCH_BYTES = 4 * 1024 * 1024
BINARY_PREFIX = b"\\x"

_ESCAPE_NAMED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_ESCAPE_RE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.DOTALL)


def escape(value: bytes) -> bytes:
    """Escape one value's bytes for a field (backslash first, so it is not doubled twice)."""
    if b"\\" in value:
        value = value.replace(b"\\", b"\\\\")
    if b"\t" in value:
        value = value.replace(b"\t", b"\\t")
    if b"\n" in value:
        value = value.replace(b"\n", b"\\n")
    if b"\r" in value:
        value = value.replace(b"\r", b"\\r")
    return value


def _unescape_one(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1] == b"x" and len(code) > 1:
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit() and code[:1] < b"8":
        return bytes([int(code, 8) & 0xFF])
    return _ESCAPE_NAMED.get(code, code)


def unescape(field: bytes) -> bytes:
    """Inverse of ``escape`` (and of PostgreSQL's wider escaping)."""
    if b"\\" not in field:
        return field
    return _ESCAPE_RE.sub(_unescape_one, field)


def hex_text(value: bytes) -> bytes:
    """A binary value as bytea hex text, before escaping: ``\\x`` then lower-case hex."""
    return BINARY_PREFIX + value.hex().encode("ascii")


def from_hex_text(text: bytes) -> bytes:
    """Inverse of ``hex_text``; ``ValueError`` when ``text`` is not bytea hex text."""
    if not text.startswith(BINARY_PREFIX):
        raise ValueError("binary value does not start with \\x")
    return bytes.fromhex(text[2:].decode("ascii"))


def encode_row(fields: Sequence[bytes | None]) -> bytes:
    """One line: each field escaped, None as ``\\N``, tab-separated, newline-terminated."""
    return b"\t".join(NULL if f is None else escape(f) for f in fields) + b"\n"


def decode_row(line: bytes) -> list[bytes | None]:
    """Split one line (without its newline) into unescaped fields, ``\\N`` as None."""
    return [None if f == NULL else unescape(f) for f in line.split(b"\t")]


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Re-cut arbitrary chunks into lines (without the newline); chunks may split rows."""
    rest = b""
    for chunk in chunks:
        if not chunk:
            continue
        parts = (rest + bytes(chunk)).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        raise ValueError("the dump ends in the middle of a row (no final newline)")


def rechunk(rows: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Group many small row lines into chunks of about ``size`` bytes, for fewer writes."""
    buffer: list[bytes] = []
    length = 0
    for row in rows:
        buffer.append(row)
        length += len(row)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield b"".join(buffer)


def parsed_batches(
    chunks: Iterable[bytes],
    parsers: Sequence[Callable[[bytes], Any]],
    size: int,
    max_bytes: int = BATCH_BYTES,
) -> Iterator[list[list[Any]]]:
    """Rows of ``chunks`` as lists of driver parameters, ``size`` rows at a time.

    A loader that inserts row by row (MariaDB, SQLite) sends each batch with one
    ``executemany``: one round trip per batch, and memory bounded by one batch, which
    also ends once its rows hold ``max_bytes`` of dump text (1000 rows of 5 MB
    attachments would otherwise be 5 GB). Each field goes through its column's parser;
    ``\\N`` stays None.
    """
    batch: list[list[Any]] = []
    held = 0
    for line in lines(chunks):
        pairs = zip(parsers, decode_row(line), strict=True)
        batch.append([None if f is None else parse(f) for parse, f in pairs])
        held += len(line)
        if len(batch) >= size or held >= max_bytes:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch
