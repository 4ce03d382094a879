"""A PostgreSQL restore carries every object ``pg_dump --schema`` carries, and behaves the same.

The fixture schema holds one of each object kind a CRM uses (types, domains, functions,
aggregates, procedures, partitioned and inheriting tables, unlogged tables, identity and
generated columns, views, materialized views, triggers with their enabled state, rules,
row-level security, comments, an extension's operator class, every index and constraint
kind, grants). After a backup and a restore into an empty database, PostgreSQL's own
``pg_dump --schema-only --no-owner`` of source and target are the same text, the
restore's verification says OK, and the objects still act: the trigger fills a column,
the rule turns a DELETE into an UPDATE, the view answers, a partition routes a row.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import pytest
import sqlalchemy as sa

from tests.backup.conftest import BackupHome
from tests.support.crm import connect

Databases = Callable[..., AbstractContextManager[str]]

RICH_SCHEMA = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
COMMENT ON SCHEMA public IS 'the CRM';
CREATE TYPE status AS ENUM ('lead', 'client', 'lost');
CREATE TYPE unused_kind AS ENUM ('x', 'y');
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE TYPE postal AS (street text, city text);
CREATE TYPE score_span AS RANGE (subtype = float8);
CREATE SEQUENCE invoice_numbers START 1000 INCREMENT 10;
CREATE TABLE contacts (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    mail email,
    stage status NOT NULL DEFAULT 'lead',
    home postal,
    shout text GENERATED ALWAYS AS (upper(name)) STORED,
    slug text NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    scores score_span,
    CONSTRAINT name_not_blank CHECK (name <> '')
);
COMMENT ON TABLE contacts IS 'people';
COMMENT ON COLUMN contacts.slug IS 'filled by a trigger';
CREATE INDEX contacts_name_trgm ON contacts USING gin (name gin_trgm_ops);
CREATE INDEX contacts_live ON contacts (lower(name)) WHERE NOT deleted;
CREATE INDEX contacts_id_hash ON contacts USING hash (slug);
CREATE FUNCTION fill_slug() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.slug := lower(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER contacts_slug BEFORE INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION fill_slug();
CREATE FUNCTION audit_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER contacts_audit AFTER UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION audit_noop();
ALTER TABLE contacts DISABLE TRIGGER contacts_audit;
COMMENT ON TRIGGER contacts_slug ON contacts IS 'NOT NULL slug';
CREATE RULE soft_delete AS ON DELETE TO contacts
    DO INSTEAD UPDATE contacts SET deleted = true WHERE id = OLD.id;
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, what text,
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_what ON events (what);
CREATE TABLE notes (id serial PRIMARY KEY, body text);
CREATE TABLE call_notes (minutes int CHECK (minutes >= 0)) INHERITS (notes);
CREATE UNLOGGED TABLE sessions (token text PRIMARY KEY, seen timestamptz);
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_sessions ON sessions USING (token IS NOT NULL);
CREATE TABLE bookings (
    id int PRIMARY KEY,
    contact int REFERENCES contacts (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    during tsrange,
    code text,
    EXCLUDE USING gist (during WITH &&),
    CONSTRAINT code_unique UNIQUE NULLS NOT DISTINCT (code)
);
CREATE INDEX bookings_brin ON bookings USING brin (id);
CREATE TABLE no_key (a int, b text);
CREATE VIEW live_contacts AS SELECT id, name, slug FROM contacts WHERE NOT deleted;
CREATE VIEW live_names AS SELECT name FROM live_contacts;
CREATE MATERIALIZED VIEW stage_counts AS SELECT stage, count(*) AS n FROM contacts GROUP BY stage;
CREATE UNIQUE INDEX stage_counts_stage ON stage_counts (stage);
CREATE AGGREGATE concat_all(text) (SFUNC = textcat, STYPE = text, INITCOND = '');
CREATE PROCEDURE close_lost() LANGUAGE sql AS $$ UPDATE contacts SET deleted = true
    WHERE stage = 'lost' $$;
CREATE FUNCTION next_invoice() RETURNS bigint LANGUAGE sql
    AS $$ SELECT nextval('invoice_numbers') $$;
CREATE STATISTICS contacts_stats (dependencies) ON stage, deleted FROM contacts;
GRANT SELECT ON live_contacts TO PUBLIC;
INSERT INTO contacts (name, mail, stage, home, scores)
    VALUES ('Ann', 'ann@example.org', 'client', ROW('1 rue', 'Lyon'), '[1,2)'),
           ('Bob', NULL, 'lost', NULL, NULL), ('Cid', 'cid@example.org', 'lead', NULL, 'empty');
INSERT INTO events VALUES (1, '2025-03-01', 'call'), (2, '2026-03-01', 'mail');
INSERT INTO notes (body) VALUES ('parent row');
INSERT INTO call_notes (body, minutes) VALUES ('child row', 12);
INSERT INTO sessions VALUES ('t1', '2026-01-01T10:00:00Z');
INSERT INTO bookings VALUES (1, 1, '[2026-01-01 10:00, 2026-01-01 11:00)', NULL);
INSERT INTO no_key VALUES (2, 'b'), (1, 'a'), (1, 'a');
SELECT nextval('invoice_numbers'), nextval('invoice_numbers');
REFRESH MATERIALIZED VIEW stage_counts;
"""


def execute(url: str, statements: Iterable[str]) -> list[tuple[object, ...]]:
    """Run statements in one transaction; the rows of the last one."""
    with connect(url) as conn:
        cur = conn.cursor()
        rows: list[tuple[object, ...]] = []
        for statement in statements:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
        return rows


def native_schema(url: str) -> str:
    """``pg_dump --schema-only --no-owner`` of the database, without per-run lines."""
    parsed = sa.engine.make_url(url)
    out = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", "-h", str(parsed.host), "-p",
         str(parsed.port or 5432), "-U", str(parsed.username), str(parsed.database)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return "\n".join(
        line
        for line in out.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict", "-- Dumped"))
    )


def restore(home: BackupHome, rp_id: str, target: str, *flags: str) -> dict[str, object]:
    run = home.cli("restore", rp_id, "--to", target, "--json", *flags)
    assert run.rc == 0, run.out + run.err
    answer: dict[str, object] = json.loads(run.out)
    return answer


@pytest.fixture
def rich_source(databases: Databases, monkeypatch: pytest.MonkeyPatch) -> Iterable[str]:
    with databases("postgresql", filled=False) as source:
        execute(source, [RICH_SCHEMA])
        monkeypatch.setenv("BT_CRM_A_URL", source)
        yield source


@pytest.mark.postgres
def test_every_object_kind_comes_back_as_pg_dump_sees_it(
    home: BackupHome, databases: Databases, rich_source: str
) -> None:
    home.policy("acme-sas")
    rp = home.back_up("acme-sas")
    with databases("postgresql", filled=False) as target:
        answer = restore(home, rp.id, target)
        assert answer["ok"] and answer["problems"] == [], answer
        assert native_schema(target) == native_schema(rich_source)

        # the objects act as they did
        [(slug,)] = execute(target, ["INSERT INTO contacts (name) VALUES ('Dee') RETURNING slug"])
        assert slug == "dee"  # the trigger that fills a NOT NULL column
        execute(target, ["DELETE FROM contacts WHERE name = 'Dee'"])
        assert execute(target, ["SELECT deleted FROM contacts WHERE name = 'Dee'"]) == [(True,)]
        assert execute(target, ["SELECT name FROM live_names ORDER BY 1"]) == [
            ("Ann",), ("Bob",), ("Cid",)
        ]  # fmt: skip
        execute(target, ["INSERT INTO events VALUES (3, '2025-07-01', 'visit')"])
        assert execute(target, ["SELECT count(*) FROM events_2025"]) == [(2,)]
        assert execute(target, ["SELECT count(*) FROM notes"]) == [(2,)]  # parent sees child
        assert execute(target, ["SELECT count(*) FROM ONLY notes"]) == [(1,)]
        assert execute(target, ["SELECT n FROM stage_counts WHERE stage = 'lost'"]) == [(1,)]
        assert execute(target, ["SELECT next_invoice()"]) == [
            (1020,)
        ]  # counter carried (1000, 1010 were taken)
        [(shout,)] = execute(target, ["SELECT shout FROM contacts WHERE name = 'Ann'"])
        assert shout == "ANN"  # generated again by the target
        assert execute(target, ["SELECT concat_all(name ORDER BY name) FROM contacts"]) == [
            ("AnnBobCidDee",)
        ]
        assert execute(
            target, ["SELECT tgenabled FROM pg_trigger WHERE tgname = 'contacts_audit'"]
        ) == [("D",)]


@pytest.mark.postgres
def test_a_restore_without_owners_and_grants_says_what_it_left_out(
    home: BackupHome, databases: Databases, rich_source: str
) -> None:
    home.policy("acme-sas")
    rp = home.back_up("acme-sas")
    with databases("postgresql", filled=False) as target:
        answer = restore(home, rp.id, target, "--no-owner", "--no-privileges")
        assert answer["ok"], answer
        notes = "\n".join(str(n) for n in answer["notes"])  # type: ignore[attr-defined]
        assert "--no-owner" in notes and "--no-privileges" in notes
        assert execute(
            target, ["SELECT has_table_privilege('public', 'live_contacts', 'SELECT')"]
        ) == [(False,)]


@pytest.mark.postgres
def test_grants_to_a_role_the_target_lacks_are_skipped_and_listed(
    home: BackupHome, databases: Databases, rich_source: str
) -> None:
    role = "rp_gone_" + sa.engine.make_url(rich_source).database.split("_")[-1]  # type: ignore[union-attr]
    execute(rich_source, [f"CREATE ROLE {role}", f"GRANT SELECT ON contacts TO {role}"])
    home.policy("acme-sas")
    rp = home.back_up("acme-sas")
    execute(rich_source, [f"DROP OWNED BY {role}", f"DROP ROLE {role}"])
    with databases("postgresql", filled=False) as target:
        answer = restore(home, rp.id, target)
    assert answer["ok"], answer
    assert any(role in str(n) and "GRANT" in str(n) for n in answer["notes"])  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_what_cannot_be_carried_is_refused_all_at_once_and_nothing_is_stored(
    home: BackupHome, rich_source: str
) -> None:
    execute(
        rich_source,
        [
            "SELECT lo_from_bytea(0, 'scanned contract'::bytea)",
            "CREATE SCHEMA side",
            "CREATE TABLE side.leftover (id int)",
        ],
    )
    home.policy("acme-sas")
    run = home.cli("backup", "acme-sas")
    assert run.rc == 3, run.out + run.err
    assert "large objects" in run.err and "schema side" in run.err
    assert home.complete("acme-sas") == []
    assert not any(home.path.rglob("*.age"))
