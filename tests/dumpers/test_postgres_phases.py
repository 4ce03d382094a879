"""PostgreSQL restore phases: what the verification may read during, and odd constraints.

The restore service re-dumps the target in a second session while the ``indexes`` phase
builds; that only works if the phase takes no lock that blocks readers. Unique constraints
of every shape must still come back exactly, whichever phase builds them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from retention_pipeline.adapters.dumpers import open_dumper, open_loader
from retention_pipeline.ports.source import (
    SourceError,
    Table,
    UnsupportedSchemaError,
    digest_tables,
    inventory_mismatches,
    table_dump_mismatches,
)
from tests.dumpers.restore import dump_all, restore, structure
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
            assert structure(dumper.schema()) == structure(snapshot)
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
            assert structure(dumper.schema()) == structure(snapshot)


# What the dumper once refused and now carries through pg_dump's DDL: each comes back with
# the same rows and the same inventory of schema objects.
CARRIED = {
    "enum array": [
        "CREATE TYPE mood AS ENUM ('ok', 'sad')",
        "CREATE TABLE feelings (id bigint PRIMARY KEY, moods mood[])",
        "INSERT INTO feelings VALUES (1, '{ok,sad}')",
    ],
    "domain": [
        "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
        "CREATE TABLE scores (id bigint PRIMARY KEY, score positive)",
        "INSERT INTO scores VALUES (1, 5)",
    ],
    "partitions": [
        "CREATE TABLE events (at date NOT NULL) PARTITION BY RANGE (at)",
        "CREATE TABLE events_old PARTITION OF events FOR VALUES FROM (MINVALUE) TO ('2026-01-01')",
        "CREATE TABLE events_new PARTITION OF events DEFAULT",
        "INSERT INTO events VALUES ('2025-01-01'), ('2026-06-01')",
    ],
    "default calls a function": [
        "CREATE FUNCTION next_ref() RETURNS text LANGUAGE sql AS $$ SELECT 'REF-1' $$",
        "CREATE TABLE refs (id int PRIMARY KEY, ref text DEFAULT next_ref())",
        "INSERT INTO refs (id) VALUES (1)",
    ],
    "expression index on a function": [
        "CREATE FUNCTION norm(text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT lower($1) $$",
        "CREATE TABLE people (id int PRIMARY KEY, mail text)",
        "CREATE INDEX people_mail_idx ON people (norm(mail))",
        "INSERT INTO people VALUES (1, 'A@B')",
    ],
    "inheritance": [
        "CREATE TABLE parties (id int PRIMARY KEY)",
        "CREATE TABLE customers (vip boolean) INHERITS (parties)",
        "INSERT INTO parties VALUES (1)",
        "INSERT INTO customers VALUES (2, true)",
    ],
    "row-level security": [
        "CREATE TABLE tenants (id int PRIMARY KEY, owner text)",
        "ALTER TABLE tenants ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own ON tenants USING (owner = current_user)",
        "INSERT INTO tenants VALUES (1, 'x')",
    ],
    "extension operator class": [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE TABLE names (id int PRIMARY KEY, name text)",
        "CREATE INDEX names_trgm ON names USING gin (name gin_trgm_ops)",
        "INSERT INTO names VALUES (1, 'Ann')",
    ],
    "created collation": [
        "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', "
        "deterministic = false)",
        "CREATE TABLE tags (id int PRIMARY KEY, label text COLLATE nocase)",
        "INSERT INTO tags VALUES (1, 'Tag')",
    ],
}


@pytest.mark.parametrize("case", sorted(CARRIED))
def test_what_the_dumper_once_refused_now_comes_back_whole(postgres_url: str, case: str) -> None:
    source = _source(postgres_url)
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        for statement in CARRIED[case]:
            conn.execute(statement)
    snapshot, data, digests = dump_all(source)
    with scratch_postgres_database() as target:
        restore(target, snapshot, data)
        with open_dumper(target) as dumper:
            assert inventory_mismatches(snapshot.objects, dumper.inventory()) == []
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            ["CREATE SCHEMA sales", "CREATE TABLE sales.orders (id bigint PRIMARY KEY)"],
            "schema sales (holds tables, and only schema public is backed up)",
        ),
        (
            [
                "CREATE TABLE scans (id int PRIMARY KEY, blob oid)",
                "INSERT INTO scans VALUES (1, lo_from_bytea(0, 'contract'))",
            ],
            "large objects 1 large object(s) of the database",
        ),
        (
            ["CREATE TABLE nothing ()", "INSERT INTO nothing DEFAULT VALUES"],
            "table public.nothing (it has no column, so COPY cannot carry it)",
        ),
    ],
)
def test_what_a_backup_cannot_carry_is_refused_by_name(
    postgres_url: str, statements: list[str], message: str
) -> None:
    source = _source(postgres_url)
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    with open_dumper(source) as dumper, pytest.raises(UnsupportedSchemaError) as refused:
        dumper.schema()
    assert message in str(refused.value)
    assert refused.value.exit_code == 3


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
            assert structure(dumper.schema()) == structure(snapshot)
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []
        with psycopg.connect(_libpq(target), autocommit=True) as conn:
            next_id = conn.execute(
                """INSERT INTO "crm.contacts" (name) VALUES ('y') RETURNING id"""
            ).fetchone()
            assert next_id == (6,)  # the serial's sequence came back, owned by its column


def test_a_role_that_row_security_would_filter_gets_an_error_not_a_partial_backup(
    postgres_url: str,
) -> None:
    """The dump turns row_security off, as pg_dump does: a role subject to a policy must
    not get a backup that silently lacks the rows it may not see."""
    source = _source(postgres_url)
    table = next(t for t in _tables(source) if t.name == "accounts")
    role = f"rls_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute("ALTER TABLE accounts ENABLE ROW LEVEL SECURITY")
        conn.execute(f"CREATE POLICY limited ON accounts TO {role} USING (id < 10)")
    try:
        as_role = make_url(source).set(username=role).render_as_string(hide_password=False)
        # schema() refuses the table; dumping it anyway must fail, not return fewer rows
        with open_dumper(as_role) as dumper, pytest.raises(SourceError, match="dumping failed"):
            list(dumper.dump_table(table))
    finally:
        with psycopg.connect(_libpq(source), autocommit=True) as conn:
            conn.execute("ALTER TABLE accounts DISABLE ROW LEVEL SECURITY")
            conn.execute("DROP POLICY limited ON accounts")
            conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
            conn.execute(f"DROP ROLE {role}")


def _tables(url: str) -> list[Table]:
    with open_dumper(url) as dumper:
        return list(dumper.schema().tables)


def test_a_table_without_key_and_a_column_named_r_verifies(postgres_url: str) -> None:
    """Rows without a key are ordered by their whole-row text: a column named like the
    query's table alias must not take its place (rows tying on it would then come out in
    physical order, which a restore does not keep)."""
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE marks (r int, s text)")
        conn.execute("INSERT INTO marks SELECT g % 3, md5(g::text) FROM generate_series(1, 3000) g")
    snapshot, data, digests = dump_all(postgres_url)
    rows = [line.split(b"\t") for line in data["marks"].splitlines()]
    assert rows == sorted(rows, key=lambda row: (int(row[0]), row[1]))
    with scratch_postgres_database() as target:
        restore(target, snapshot, data)
        with open_dumper(target) as dumper:
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []


def test_names_resolve_in_the_restored_schema_whatever_the_target_search_path(
    postgres_url: str,
) -> None:
    source = _source(postgres_url)
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        conn.execute("CREATE TABLE parent (id serial PRIMARY KEY)")
        conn.execute("CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent (id))")
        conn.execute("INSERT INTO parent DEFAULT VALUES")
    snapshot, data, digests = dump_all(source)
    with scratch_postgres_database() as target:
        name = make_url(target).database
        with psycopg.connect(_libpq(target), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET search_path = ''")
        restore(target, snapshot, data)
        with open_dumper(target) as dumper:
            assert structure(dumper.schema()) == structure(snapshot)
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []
        with psycopg.connect(_libpq(target), autocommit=True) as conn:
            conn.execute("SET search_path = public")
            added = conn.execute("INSERT INTO parent DEFAULT VALUES RETURNING id").fetchone()
            assert added == (2,)


def test_primary_key_options_come_back(postgres_url: str) -> None:
    """DEFERRABLE changes when the key is checked, INCLUDE what its index holds: a key
    rebuilt from its columns alone would drop both."""
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE slots (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED)")
        conn.execute(
            "CREATE TABLE notes (id int, body text, "
            "CONSTRAINT notes_pk PRIMARY KEY (id) INCLUDE (body))"
        )
        conn.execute("INSERT INTO slots SELECT generate_series(1, 10)")
    query = (
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'p' ORDER BY conname"
    )
    with psycopg.connect(_libpq(postgres_url)) as conn:
        keys = conn.execute(query).fetchall()
    assert ("slots_pkey", "PRIMARY KEY (id) DEFERRABLE INITIALLY DEFERRED") in keys
    snapshot, data, digests = dump_all(postgres_url)
    with scratch_postgres_database() as target:
        restore(target, snapshot, data)
        with psycopg.connect(_libpq(target)) as conn:
            assert conn.execute(query).fetchall() == keys
        with open_dumper(target) as dumper:
            assert structure(dumper.schema()) == structure(snapshot)
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []


def test_a_pg_dump_older_than_the_server_is_refused_naming_both_versions(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old client would fail half-way (or miss new object kinds): say so up front."""
    old = tmp_path / "bin" / "pg_dump"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.3'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}:{os.environ['PATH']}")
    source = _source(postgres_url)
    with open_dumper(source) as dumper, pytest.raises(SourceError) as refused:
        dumper.schema()
    server = dumper_major(source)
    assert f"pg_dump 12.3 is older than the PostgreSQL {server} server" in str(refused.value)
    assert f"postgresql-client-{server}" in str(refused.value)


def dumper_major(url: str) -> int:
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def test_a_forced_restore_replaces_every_object_of_the_schema(postgres_url: str) -> None:
    """``--force`` must also clear types and functions, or pg_dump's DDL would clash."""
    source = _source(postgres_url)
    with psycopg.connect(_libpq(source), autocommit=True) as conn:
        conn.execute("CREATE TYPE stage AS ENUM ('a', 'b')")
        conn.execute("CREATE TABLE deals (id int PRIMARY KEY, s stage)")
    snapshot, data, digests = dump_all(source)
    with scratch_postgres_database() as target:
        restore(target, snapshot, data)
        with open_loader(target) as loader:
            loader.clear()
            assert loader.is_empty()
        restore(target, snapshot, data)
        with open_dumper(target) as dumper:
            assert inventory_mismatches(snapshot.objects, dumper.inventory()) == []
            assert table_dump_mismatches(digests, digest_tables(dumper, snapshot.tables)) == []
