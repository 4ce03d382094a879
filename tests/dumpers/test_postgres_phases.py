"""PostgreSQL restore phases: what the verification may read during, and odd constraints.

The restore service re-dumps the target in a second session while the ``indexes`` phase
builds; that only works if the phase takes no lock that blocks readers. Unique constraints
of every shape must still come back exactly, whichever phase builds them.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from retention_pipeline.adapters.dumpers import open_dumper, open_loader
from retention_pipeline.ports.source import SourceError, digest_tables, table_dump_mismatches
from tests.dumpers.restore import dump_all, restore
from tests.support.services import scratch_postgres_database

pytestmark = pytest.mark.postgres

SCHEMA = [
    "CREATE TABLE accounts (id bigint PRIMARY KEY, code text NOT NULL, region text, "
    "alias text, CONSTRAINT accounts_code_key UNIQUE (code), "
    "CONSTRAINT accounts_region_key UNIQUE NULLS NOT DISTINCT (region), "
    "CONSTRAINT accounts_alias_key UNIQUE (alias) INCLUDE (region), "
    "CONSTRAINT accounts_pair_key UNIQUE (code, alias) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TABLE invoices (id bigint PRIMARY KEY, account_code text "
    "REFERENCES accounts (code), account_alias text REFERENCES accounts (alias), "
    "total numeric(12, 2) CHECK (total >= 0))",
    "CREATE INDEX invoices_total_idx ON invoices (total)",
    "INSERT INTO accounts SELECT g, 'A' || g, CASE WHEN g = 1 THEN NULL ELSE 'R' || g END, "
    "'alias ' || g FROM generate_series(1, 50) g",
    "INSERT INTO invoices SELECT g, 'A' || (1 + g % 50), 'alias ' || (1 + g % 50), g "
    "FROM generate_series(1, 200) g",
]


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _source(url: str) -> str:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for statement in SCHEMA:
            conn.execute(statement)
    return url


def test_every_unique_shape_and_foreign_key_comes_back(postgres_url: str) -> None:
    source = _source(postgres_url)
    snapshot, data, digests = dump_all(source)
    with scratch_postgres_database() as target:
        restore(target, snapshot, data)
        with open_dumper(target) as dumper:
            assert dumper.schema() == snapshot
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []


def test_the_indexes_phase_never_waits_for_a_reader(postgres_url: str) -> None:
    """A reader holding the tables (as the verification does) must not block the builds."""
    source = _source(postgres_url)
    snapshot, data, _ = dump_all(source)
    with scratch_postgres_database() as target, open_loader(target) as loader:
        loader.create_schema(snapshot, phase="tables")
        for table in snapshot.tables:
            loader.load_table(table, [data[table.name]])
        loader.create_schema(snapshot, phase="keys")
        with open_dumper(target) as reader:
            digest_tables(reader, snapshot.tables)  # its transaction keeps both tables locked
            loader.conn.execute("SET lock_timeout = '3s'")  # type: ignore[attr-defined]
            loader.create_schema(snapshot, phase="indexes")  # would time out if it waited
        loader.create_schema(snapshot, phase="constraints")
        loader.set_sequences(snapshot)
        with open_dumper(target) as dumper:
            assert dumper.schema() == snapshot


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            [
                "CREATE TYPE mood AS ENUM ('ok', 'sad')",
                "CREATE TABLE feelings (id bigint PRIMARY KEY, moods mood[])",
            ],
            "table feelings: column moods has type mood[], which this database defines",
        ),
        (
            [
                "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
                "CREATE TABLE scores (id bigint PRIMARY KEY, score positive)",
            ],
            "table scores: column score has type positive",
        ),
        (
            ["CREATE SCHEMA sales", "CREATE TABLE sales.orders (id bigint PRIMARY KEY)"],
            "tables in schema sales besides public",
        ),
        (
            ["CREATE TABLE events (at date NOT NULL) PARTITION BY RANGE (at)"],
            "schema public has partitioned tables",
        ),
        (
            [
                "CREATE FUNCTION next_ref() RETURNS text LANGUAGE sql AS $$ SELECT 'REF-1' $$",
                "CREATE TABLE refs (id int PRIMARY KEY, ref text DEFAULT next_ref())",
            ],
            "table refs: a default, check or index calls the function next_ref",
        ),
        (
            [
                "CREATE FUNCTION norm(text) RETURNS text IMMUTABLE LANGUAGE sql "
                "AS $$ SELECT lower($1) $$",
                "CREATE TABLE people (id int PRIMARY KEY, mail text)",
                "CREATE INDEX people_mail_idx ON people (norm(mail))",
            ],
            "table people: a default, check or index calls the function norm",
        ),
        (
            [
                "CREATE TABLE parties (id int PRIMARY KEY)",
                "CREATE TABLE customers (vip boolean) INHERITS (parties)",
            ],
            "table customers, parties: table inheritance is not supported",
        ),
        (
            [
                "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', "
                "deterministic = false)",
                "CREATE TABLE tags (id int PRIMARY KEY, label text COLLATE nocase)",
            ],
            "table tags: column label uses the collation nocase",
        ),
    ],
)
def test_what_a_backup_would_leave_out_or_could_not_restore_is_refused(
    postgres_url: str, statements: list[str], message: str
) -> None:
    source = _source(postgres_url)
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    with open_dumper(source) as dumper, pytest.raises(SourceError, match=re.escape(message)):
        dumper.schema()


def test_collations_and_dotted_names_come_back(postgres_url: str) -> None:
    source = _source(postgres_url)
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        conn.execute(
            'CREATE TABLE "crm.contacts" (id serial PRIMARY KEY, '
            'name text COLLATE "fr-x-icu" UNIQUE, note text COLLATE "C")'
        )
        conn.execute(
            """INSERT INTO "crm.contacts" (name, note) VALUES ('b', 'b'), ('B', 'B'), """
            "('a', 'a'), ('é', 'é'), ('z', 'Z')"
        )
    snapshot, data, digests = dump_all(source)
    columns = {c.name: c.type for c in snapshot.table("crm.contacts").columns}
    assert columns["name"] == 'text COLLATE "fr-x-icu"' and columns["note"] == 'text COLLATE "C"'
    with scratch_postgres_database() as target:
        restore(target, snapshot, data)
        with open_dumper(target) as dumper:
            assert dumper.schema() == snapshot
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []
        with psycopg.connect(_libpq(target), autocommit=True) as conn:
            next_id = conn.execute(
                """INSERT INTO "crm.contacts" (name) VALUES ('y') RETURNING id"""
            ).fetchone()
            assert next_id == (6,)  # the serial's sequence came back, owned by its column
