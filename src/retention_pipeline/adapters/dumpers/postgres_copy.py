"""Read ``COPY ... TO STDOUT`` output in blocks, with one libpq call per row and no more.

Why: the server sends one CopyData message per row. psycopg's ``Copy.read()`` returns one
message per Python call, and each call goes through the connection's generator-and-wait
machinery; on 1,000,000 rows that is about a second of CPU on the dump's thread, which
competes with compression on a two-core worker (benchmarks/README.md). Here the loop
calls ``PGconn.get_copy_data`` without blocking while libpq has rows buffered and waits
on the socket only when it has none, gathering rows into blocks of ``chunk_size``.

Rules this module enforces:

* the bytes are exactly the server's COPY output, in order, in blocks of at most
  ``chunk_size`` bytes (a single longer row is a block of its own), cut at row ends;
* the last block is handed over only after the server's final result said the COPY
  succeeded, so a COPY that fails half-way never looks like a complete, shorter table:
  its error is raised instead (as a ``psycopg.Error``, like psycopg's own API);
* a consumer that stops early leaves the connection usable: the COPY is cancelled and
  what remains of it is drained before the generator returns.
"""

from __future__ import annotations

import select
from collections.abc import Generator
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.errors import error_from_result
from psycopg.pq.abc import PGconn, PGresult


def copy_out(
    conn: psycopg.Connection[Any], query: sql.Composable, chunk_size: int
) -> Generator[bytes, None, None]:
    """Run the ``COPY ... TO STDOUT`` ``query`` on ``conn``; yield its bytes in blocks."""
    pgconn = conn.pgconn
    readable = select.poll()
    readable.register(pgconn.socket, select.POLLIN)
    pgconn.send_query(query.as_bytes(conn))
    _flush(pgconn)
    first = _next_result(pgconn, readable)
    if first is None or first.status != pq.ExecStatus.COPY_OUT:
        rest = _results(pgconn, readable)
        raise _failure(conn, [r for r in (first, *rest) if r is not None])
    done = False
    try:
        buffer = bytearray()
        while True:
            nbytes, data = pgconn.get_copy_data(1)
            if nbytes > 0:
                if len(buffer) + nbytes > chunk_size and buffer:
                    yield bytes(buffer)
                    buffer.clear()
                buffer += data
            elif nbytes == 0:
                readable.poll()
                pgconn.consume_input()
            elif nbytes == -1:
                break
            else:
                raise psycopg.OperationalError(_message(conn, pgconn.error_message))
        done = True
    finally:
        if not done:
            _abandon(conn, readable)
    results = _results(pgconn, readable)
    if any(r.status != pq.ExecStatus.COMMAND_OK for r in results):
        raise _failure(conn, results)
    if buffer:
        yield bytes(buffer)


def _flush(pgconn: PGconn) -> None:
    """Send the whole query (the connection is non-blocking)."""
    writable = select.poll()
    writable.register(pgconn.socket, select.POLLOUT)
    while pgconn.flush() != 0:
        writable.poll()


def _next_result(pgconn: PGconn, readable: select.poll) -> PGresult | None:
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            return pgconn.get_result()
        readable.poll()


def _results(pgconn: PGconn, readable: select.poll) -> list[PGresult]:
    """Every remaining result of the query, up to the end (libpq's ``NULL``)."""
    out = []
    while (result := _next_result(pgconn, readable)) is not None:
        out.append(result)
    return out


def _abandon(conn: psycopg.Connection[Any], readable: select.poll) -> None:
    """Cancel a COPY the consumer stopped reading, and drain it (errors expected)."""
    pgconn = conn.pgconn
    with suppress(psycopg.Error):
        conn.cancel_safe()
        while (nbytes := pgconn.get_copy_data(1)[0]) >= 0:
            if nbytes == 0:
                readable.poll()
                pgconn.consume_input()
        _results(pgconn, readable)


def _failure(conn: psycopg.Connection[Any], results: list[PGresult]) -> psycopg.Error:
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            return error_from_result(result, encoding=conn.info.encoding)
    return psycopg.ProgrammingError("the statement is not a COPY ... TO STDOUT")


def _message(conn: psycopg.Connection[Any], raw: bytes) -> str:
    return raw.decode(conn.info.encoding, "replace").strip() or "COPY failed"
