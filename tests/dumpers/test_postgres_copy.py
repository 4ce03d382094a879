"""Block reads of COPY output: same bytes as psycopg's own reader, failures never truncate.

``copy_out`` bypasses psycopg's per-row ``Copy.read()`` for speed; a user relies on it
giving exactly the server's bytes, on a COPY that fails half-way raising instead of
ending early (a shorter table would otherwise be backed up as if it were whole), and on
the connection staying usable after a consumer stops reading.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from retention_pipeline.adapters.dumpers.postgres_copy import copy_out

pytestmark = pytest.mark.postgres

ROWS = sql.SQL(
    "COPY (SELECT g, repeat(md5(g::text), 3), E'tab\\there' FROM generate_series(1, 20000) g "
    "ORDER BY g) TO STDOUT"
)


def _connect(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    )


def _psycopg_bytes(conn: psycopg.Connection[Any], query: sql.SQL) -> bytes:
    out = bytearray()
    with conn.cursor() as cur, cur.copy(query) as copy:
        while data := copy.read():
            out += data
    return bytes(out)


def test_blocks_join_to_the_servers_bytes(postgres_url: str) -> None:
    with _connect(postgres_url) as conn:
        blocks = list(copy_out(conn, ROWS, 64 * 1024))
        expected = _psycopg_bytes(conn, ROWS)
    assert len(blocks) > 1
    assert max(len(b) for b in blocks) <= 64 * 1024
    assert all(b.endswith(b"\n") for b in blocks)
    assert b"".join(blocks) == expected
    assert expected.count(b"\n") == 20000


def test_a_copy_that_fails_half_way_raises_instead_of_ending(postgres_url: str) -> None:
    failing = sql.SQL(
        "COPY (SELECT 1 / (g - 15000), repeat('x', 100) FROM generate_series(1, 20000) g) TO STDOUT"
    )
    got = bytearray()
    with _connect(postgres_url) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            for block in copy_out(conn, failing, 8 * 1024 * 1024):
                got += block
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    assert got == b""  # the rows read before the failure are never handed over as a whole


def test_an_error_before_the_copy_starts_is_raised(postgres_url: str) -> None:
    missing = sql.SQL("COPY (SELECT * FROM no_such_table) TO STDOUT")
    with _connect(postgres_url) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            list(copy_out(conn, missing, 1024))
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_consumer_that_stops_early_leaves_the_connection_usable(postgres_url: str) -> None:
    with _connect(postgres_url) as conn:
        blocks = copy_out(conn, ROWS, 4096)
        first = next(blocks)
        blocks.close()
        assert first
        assert conn.execute("SELECT 2").fetchone() == (2,)
        assert b"".join(copy_out(conn, ROWS, 4096)) == _psycopg_bytes(conn, ROWS)
