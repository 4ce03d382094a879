"""PostgreSQL restores build keys and indexes in two sessions: the result is pg_dump's own
constraints, and a build that fails fails the restore with nothing half-built."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from retention_pipeline.adapters.dumpers import open_loader
from retention_pipeline.adapters.dumpers.postgres_builds import Builds
from retention_pipeline.ports.source import SourceError
from tests.dumpers.restore import dump_all, restore
from tests.support.services import scratch_postgres_database

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE companies (id bigint PRIMARY KEY, code text NOT NULL UNIQUE);
CREATE TABLE contacts (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    company_code text REFERENCES companies (code),
    CONSTRAINT contacts_email_key UNIQUE NULLS NOT DISTINCT (email)
);
CREATE INDEX contacts_company_idx ON contacts (company_code);
CREATE TABLE tagged (a int, b int, PRIMARY KEY (a) INCLUDE (b));
INSERT INTO companies VALUES (1, 'acme'), (2, 'globex');
INSERT INTO contacts SELECT g, 'user' || g || '@example.test',
    CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'globex' END FROM generate_series(1, 500) g;
INSERT INTO tagged VALUES (1, 2);
"""
CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"""


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _fill(url: str, script: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(script)


def _constraints(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_libpq(url)) as conn:
        return conn.execute(CONSTRAINTS).fetchall()


@pytest.fixture
def target_url() -> Iterator[str]:
    """A second empty database to restore into."""
    with scratch_postgres_database() as url:
        yield url


def test_keys_and_uniques_come_back_as_the_same_constraints(
    postgres_url: str, target_url: str
) -> None:
    _fill(postgres_url, SCHEMA)
    snapshot, data, _ = dump_all(postgres_url)

    restore(target_url, snapshot, data)

    assert _constraints(target_url) == _constraints(postgres_url)
    with psycopg.connect(_libpq(target_url)) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO contacts VALUES (501, 'user1@example.test', NULL)")


def test_a_failed_build_fails_the_indexes_phase_and_leaves_no_index(
    postgres_url: str, target_url: str
) -> None:
    _fill(postgres_url, SCHEMA)
    snapshot, data, _ = dump_all(postgres_url)
    rows = data["contacts"].splitlines(keepends=True)
    # every e-mail twice under new ids: the unique index of contacts_email_key cannot build
    data["contacts"] = data["contacts"] + b"".join(
        str(1000 + n).encode() + row[row.index(b"\t") :] for n, row in enumerate(rows[:500])
    )

    with open_loader(target_url) as loader:
        loader.create_schema(snapshot, phase="tables")
        for table in snapshot.tables:
            loader.load_table(table, [data[table.name]])
        loader.create_schema(snapshot, phase="keys")
        with pytest.raises(SourceError, match=r"creating the schema \(indexes\)"):
            loader.create_schema(snapshot, phase="indexes")

    with psycopg.connect(_libpq(target_url)) as conn:
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
    assert "contacts_email_key" not in names
    assert "contacts_company_idx" not in names  # the same transaction: none of its builds


def test_closing_stops_a_build_still_running(postgres_url: str) -> None:
    conn = psycopg.connect(_libpq(postgres_url), autocommit=True)
    builds = Builds(conn)
    builds.start("SELECT pg_sleep(60);")
    time.sleep(0.3)
    closer = threading.Thread(target=builds.close)
    closer.start()
    closer.join(timeout=20)

    assert not closer.is_alive()  # cancelled, not waited out
    assert conn.closed
