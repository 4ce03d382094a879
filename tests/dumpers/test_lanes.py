"""Loading one table through two COPY sessions: every row once, or no row at all."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from retention_pipeline.adapters.dumpers.postgres_lanes import copy_in_lanes, row_pieces

ROWS = [f"{i}\tname {i} with \\t tab and \\n newline\n".encode() for i in range(1, 2001)]


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _connections(url: str) -> list[psycopg.Connection[tuple[object, ...]]]:
    return [psycopg.connect(_libpq(url), autocommit=True) for _ in range(2)]


def _query() -> sql.Composed:
    return sql.SQL("COPY {} (id, note) FROM STDIN").format(sql.Identifier("public", "notes"))


def _table(url: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id bigint, note text)")


def _rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_libpq(url)) as conn:
        return conn.execute("SELECT id, note FROM notes ORDER BY id").fetchall()


def test_row_pieces_end_on_row_ends_and_keep_every_byte() -> None:
    stream = b"".join(ROWS)
    cuts = [stream[i : i + 37] for i in range(0, len(stream), 37)]  # cuts rows anywhere

    pieces = list(row_pieces(cuts, size=500))

    assert b"".join(pieces) == stream
    assert len(pieces) > 2
    assert all(piece.endswith(b"\n") for piece in pieces)


@pytest.mark.postgres
def test_two_sessions_load_every_row_exactly_once(postgres_url: str) -> None:
    _table(postgres_url)
    connections = _connections(postgres_url)
    try:
        copy_in_lanes(connections, _query(), row_pieces(ROWS, size=1000))
    finally:
        for conn in connections:
            conn.close()

    rows = _rows(postgres_url)
    assert [r[0] for r in rows] == list(range(1, 2001))
    assert rows[0][1] == "name 1 with \t tab and \n newline"


@pytest.mark.postgres
def test_a_source_that_fails_midway_leaves_no_row_in_any_session(postgres_url: str) -> None:
    _table(postgres_url)

    def failing() -> Iterator[bytes]:
        yield from row_pieces(ROWS[:1000], size=1000)
        raise ValueError("table data do not match the manifest")

    connections = _connections(postgres_url)
    try:
        with pytest.raises(ValueError, match="do not match"):
            copy_in_lanes(connections, _query(), failing())
    finally:
        for conn in connections:
            conn.close()

    assert _rows(postgres_url) == []


@pytest.mark.postgres
def test_a_bad_row_in_one_session_rolls_the_other_back(postgres_url: str) -> None:
    _table(postgres_url)
    pieces = [*row_pieces(ROWS, size=1000), b"not-a-number\tx\n"]

    connections = _connections(postgres_url)
    try:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            copy_in_lanes(connections, _query(), pieces)
    finally:
        for conn in connections:
            conn.close()

    assert _rows(postgres_url) == []


@pytest.mark.postgres
def test_a_restore_through_lanes_gives_back_the_same_dump(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table of the CRM takes the two-session path (the thresholds lowered)."""
    from retention_pipeline.adapters.dumpers import open_dumper, postgres
    from retention_pipeline.ports.source import digest_tables, table_dump_mismatches
    from tests.dumpers.restore import dump_all, restore
    from tests.support.crm import create_crm_schema, fill_crm
    from tests.support.services import scratch_postgres_database

    create_crm_schema(postgres_url)
    fill_crm(postgres_url, contacts=300, seed=20260501)
    snapshot, data, digests = dump_all(postgres_url)
    monkeypatch.setattr(postgres, "SOLO_LIMIT", 1)
    monkeypatch.setattr(postgres, "PIECE_SIZE", 4096)  # so both sessions get rows

    with scratch_postgres_database() as target:
        restore(target, snapshot, data, chunk=7)
        with open_dumper(target) as dumper:
            restored = digest_tables(dumper, dumper.schema().tables)

    assert table_dump_mismatches(digests, restored) == []
