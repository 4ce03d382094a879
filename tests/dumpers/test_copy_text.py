"""The COPY text format: escaping round-trips, rows are counted, PostgreSQL agrees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.adapters.dumpers import open_dumper, parse_url
from retention_pipeline.adapters.dumpers.copy_text import (
    decode_row,
    encode_row,
    hex_text,
    lines,
)
from retention_pipeline.errors import ConfigError
from retention_pipeline.ports.source import SourceError, TableDigest
from tests.support.crm import connect

fields = st.lists(st.one_of(st.none(), st.binary(max_size=40)), min_size=1, max_size=6)


@given(st.lists(fields, max_size=5), st.integers(min_value=1, max_value=9))
def test_rows_round_trip_through_any_chunking(rows: list[list[bytes | None]], size: int) -> None:
    data = b"".join(encode_row(row) for row in rows)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]

    assert [decode_row(line) for line in lines(chunks)] == rows
    digest = TableDigest("t", chunks, "test")
    assert b"".join(digest) == data
    assert digest.result().rows == len(rows)


def test_tricky_values_are_escaped_one_per_line() -> None:
    row = encode_row([b"a\tb", b"new\nline\r", b"\\N", None, b"", b"back\\"])
    assert row == b"a\\tb\tnew\\nline\\r\t\\\\N\t\\N\t\tback\\\\\n"
    assert row.count(b"\n") == 1


def test_digest_refuses_a_dump_not_read_to_the_end() -> None:
    digest = TableDigest("contacts", iter([b"1\n", b"2\n"]), "test")
    next(iter(digest))
    with pytest.raises(SourceError, match="contacts"):
        digest.result()


@pytest.mark.postgres
def test_format_matches_postgresql_copy_output(postgres_url: str) -> None:
    with connect(postgres_url) as conn, conn.cursor() as cur:
        query = r"COPY (SELECT E'a\tb\\N\n', '\x00ff5c'::bytea, NULL, '') TO STDOUT"
        with cur.copy(query) as copy:
            pg = b"".join(bytes(chunk) for chunk in copy)

    assert pg == encode_row([b"a\tb\\N\n", hex_text(b"\x00\xff\\"), None, b""])


def test_errors_never_show_the_password() -> None:
    for url in (
        "postgresql://someone:s3cret-pw@127.0.0.1:1/crm",
        "mysql+pymysql://someone:s3cret-pw@127.0.0.1:1/crm",
    ):
        with pytest.raises(SourceError) as caught:
            open_dumper(url)
        assert "s3cret" not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)
        assert "s3cret" not in repr(parse_url(url))
    for url in ("oracle://someone:s3cret-pw@host/db", "postgresql://someone:s3cret-pw@[::1"):
        with pytest.raises(ConfigError) as bad:
            open_dumper(url)
        assert "s3cret" not in str(bad.value)
