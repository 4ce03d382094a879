"""Values and schemas a real CRM holds beyond the synthetic one: each comes back exactly,
or the backup is refused when the schema is read (never a complete backup that is
incomplete or that cannot be restored)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from retention_pipeline.adapters.dumpers import open_dumper
from retention_pipeline.adapters.dumpers.session import remedy
from retention_pipeline.ports.source import SourceError, digest_tables, table_dump_mismatches
from tests.dumpers.restore import dump_all, restore
from tests.support.crm import connect
from tests.support.services import scratch_mariadb_database


def run(url: str, statements: list[str]) -> None:
    with connect(url) as conn:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        cur = conn.cursor()
        cur.execute(query)
        return list(cur.fetchall())


def round_trip(source: str, target: str) -> None:
    """Dump, restore, and check the target re-dumps to the manifest's checksums."""
    snapshot, data, digests = dump_all(source)
    restore(target, snapshot, data)
    with open_dumper(target) as dumper:
        assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []


@pytest.mark.mariadb
def test_mariadb_floats_percent_names_and_lax_mode_values_come_back_exactly() -> None:
    with scratch_mariadb_database() as source, scratch_mariadb_database() as target:
        run(
            source,
            [
                "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
                "CREATE TABLE deals (id INT PRIMARY KEY, f FLOAT, `discount %` DECIMAL(5,2), "
                "st ENUM('new','won','lost'), due DATE, seen DATETIME)",
                "INSERT INTO deals VALUES (1, 1234567.891, 12.5, 'won', '2024-02-30', "
                "'2024-04-31 10:00:00'), (2, 1.17549435e-38, 0, 'bogus', '2024-01-01', NULL), "
                "(3, 0.1, NULL, NULL, NULL, NULL), (4, -3.4028234e38, 99.99, 'new', NULL, NULL)",
            ],
        )
        query = (
            "SELECT id, CAST(f AS DOUBLE), `discount %`, st + 0, CAST(due AS CHAR), "
            "CAST(seen AS CHAR) FROM deals ORDER BY id"
        )
        original = rows(source, query)
        assert original[1][3] == 0  # the ENUM error value a lax sql_mode stored
        assert original[0][4] == "2024-02-30"

        round_trip(source, target)
        assert rows(target, query) == original


@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            [
                "CREATE TABLE events (id INT NOT NULL, y INT NOT NULL, PRIMARY KEY (id, y)) "
                "PARTITION BY RANGE (y) (PARTITION p1 VALUES LESS THAN (2024), "
                "PARTITION pmax VALUES LESS THAN MAXVALUE)"
            ],
            "partitioned table events (its partitioning is not carried yet)",
        ),
        (
            ["CREATE TABLE sites (id INT PRIMARY KEY, at POINT)"],
            "column sites.at (spatial type point)",
        ),
        (
            ["CREATE TABLE prices (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING"],
            "system-versioned table prices (not carried yet)",
        ),
        (
            [
                "CREATE SEQUENCE refs",
                "CREATE TABLE orders (id INT PRIMARY KEY DEFAULT (NEXT VALUE FOR refs))",
            ],
            "sequence refs (not carried yet)",
        ),
        (
            ["CREATE TABLE paths (id INT PRIMARY KEY, p VARCHAR(10) CHARACTER SET sjis)"],
            "column paths.p (character set sjis does not survive",
        ),
        (
            ["CREATE TABLE notes (id INT PRIMARY KEY, `line\nbreak` TEXT)"],
            "its name holds a line break; rename it",
        ),
    ],
)
def test_mariadb_schemas_a_restore_could_not_recreate_are_refused(
    statements: list[str], message: str
) -> None:
    with scratch_mariadb_database() as source:
        run(source, statements)
        with open_dumper(source) as dumper, pytest.raises(SourceError, match=re.escape(message)):
            dumper.schema()


def test_sqlite_values_keep_their_storage_class_whatever_the_column(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    run(
        source,
        [
            "CREATE TABLE wr (k TEXT PRIMARY KEY, v) WITHOUT ROWID",
            "INSERT INTO wr VALUES ('int', 1), ('real', 2.5), ('text', 'hello'), "
            "('blob', x'00ff41'), ('null', NULL), ('big', 9223372036854775807)",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, n NUMERIC, i INTEGER, b BLOB, t TEXT)",
            "INSERT INTO notes VALUES (1, 'nan', x'41', 7, 5), (2, 3.25, 12, 'words', 'x'), "
            "(3, 10, -1, x'', '')",
        ],
    )
    query = (
        "SELECT k, typeof(v), quote(v) FROM wr UNION ALL "
        "SELECT id, typeof(n) || typeof(i) || typeof(b) || typeof(t), "
        "quote(n) || quote(i) || quote(b) || quote(t) FROM notes ORDER BY 1"
    )
    original = rows(source, query)
    assert ("int", "integer", "1") in original

    round_trip(source, target)
    assert rows(target, query) == original


def test_sqlite_text_that_only_looks_like_a_number_stays_text(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    run(
        source,
        [
            "CREATE TABLE places (id INTEGER PRIMARY KEY, zip, code)",
            "INSERT INTO places VALUES (1, '01234', '-0'), (2, 75001, 0), (3, '+5', '007')",
        ],
    )
    query = "SELECT id, typeof(zip), quote(zip), typeof(code), quote(code) FROM places"
    original = rows(source, query)
    assert original[0] == (1, "text", "'01234'", "text", "'-0'")
    round_trip(source, target)
    assert rows(target, query) == original


def test_sqlite_text_that_is_not_utf8_is_refused_by_name(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'latin.db'}"
    run(
        source,
        [
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
            "INSERT INTO notes VALUES (1, CAST(x'4dfc6c6c6572' AS TEXT))",  # 'Müller', latin-1
        ],
    )
    with open_dumper(source) as dumper:
        [table] = dumper.schema().tables
        with pytest.raises(SourceError, match="table notes: a text value is not valid UTF-8") as e:
            list(dumper.dump_table(table))
    assert "ller" not in str(e.value)


def test_sqlite_virtual_tables_are_refused(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'fts.db'}"
    run(
        source,
        [
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)",
            "CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs', content_rowid='id')",
        ],
    )
    with open_dumper(source) as dumper, pytest.raises(SourceError, match="virtual table docs_fts"):
        dumper.schema()


@pytest.mark.postgres
def test_refused_data_and_an_unreachable_server_get_different_advice(
    postgres_url: str, tmp_path: Path
) -> None:
    libpq = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq) as conn, pytest.raises(psycopg.Error) as refused:
        conn.execute("SELECT 1 / 0")
    assert remedy(refused.value).startswith("the server refused what was sent")

    with pytest.raises(psycopg.Error) as unreachable:
        psycopg.connect("postgresql://postgres@127.0.0.1:9/none", connect_timeout=2)
    assert remedy(unreachable.value).startswith("check that the server is up")

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    with pytest.raises(sqlite3.Error) as not_a_database:
        sqlite3.connect(notes).execute("SELECT * FROM sqlite_master")
    assert remedy(not_a_database.value).startswith("check that the server is up")


@pytest.mark.mariadb
def test_mariadb_a_comment_naming_auto_increment_is_kept_as_text() -> None:
    with scratch_mariadb_database() as source, scratch_mariadb_database() as target:
        run(
            source,
            [
                "CREATE TABLE tickets (id INT AUTO_INCREMENT PRIMARY KEY, t TEXT) "
                "COMMENT 'see AUTO_INCREMENT=99 in the runbook'",
                "INSERT INTO tickets (t) VALUES ('first')",
            ],
        )
        round_trip(source, target)
        comment = (
            "SELECT TABLE_COMMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tickets'"
        )
        assert rows(target, comment) == [("see AUTO_INCREMENT=99 in the runbook",)]
        run(target, ["INSERT INTO tickets (t) VALUES ('second')"])
        assert rows(target, "SELECT id FROM tickets ORDER BY id") == [(1,), (2,)]


@pytest.mark.mariadb
def test_mariadb_a_row_over_the_targets_packet_limit_gets_advice_on_it() -> None:
    """A binary value travels as hex, twice its size: a target with a small
    max_allowed_packet drops the statement, and the operator must learn which setting."""
    with scratch_mariadb_database() as source, scratch_mariadb_database() as target:
        run(
            source,
            [
                "CREATE TABLE scans (id INT PRIMARY KEY, body LONGBLOB)",
                "INSERT INTO scans VALUES (1, REPEAT(x'ab', 3000000))",
            ],
        )
        snapshot, data, _ = dump_all(source)
        [limit] = rows(target, "SELECT @@GLOBAL.max_allowed_packet")
        run(target, ["SET GLOBAL max_allowed_packet = 4194304"])  # new sessions: 4 MiB
        try:
            with pytest.raises(SourceError, match="max_allowed_packet") as refused:
                restore(target, snapshot, data)
        finally:
            run(target, [f"SET GLOBAL max_allowed_packet = {int(limit[0])}"])
    assert "table scans: loading failed" in str(refused.value)


@pytest.mark.mariadb
def test_mariadb_a_server_wide_ansi_quotes_mode_changes_nothing() -> None:
    with scratch_mariadb_database() as source, scratch_mariadb_database() as target:
        run(
            source,
            [
                "CREATE TABLE codes (id INT PRIMARY KEY, label CHAR(8) DEFAULT 'n/a')",
                "INSERT INTO codes VALUES (1, 'ab'), (2, DEFAULT)",
            ],
        )
        [mode] = rows(source, "SELECT @@GLOBAL.sql_mode")
        run(source, ["SET GLOBAL sql_mode = 'ANSI_QUOTES,PAD_CHAR_TO_FULL_LENGTH'"])
        try:
            round_trip(source, target)
        finally:
            run(source, [f"SET GLOBAL sql_mode = '{mode[0]}'"])
        assert rows(target, "SELECT id, label FROM codes ORDER BY id") == [(1, "ab"), (2, "n/a")]
