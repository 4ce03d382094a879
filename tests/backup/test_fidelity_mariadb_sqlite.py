"""MariaDB and SQLite restores carry what their own dump tools carry, and behave the same.

MariaDB: the fixture holds a view reading a view, a stored function and a procedure, two
triggers (one fills a NOT NULL column), an event, a generated column and a check; after a
backup and a restore into an empty database ``mariadb-dump --no-data --routines --triggers
--events`` of source and target are the same text. SQLite: views, triggers,
``user_version``, ``application_id`` and the hidden row ids of tables without an INTEGER
PRIMARY KEY come back, and ``sqlite3 .schema`` of both files is the same.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.backup.conftest import BackupHome
from tests.support.crm import connect

Databases = Callable[..., AbstractContextManager[str]]

MARIADB_SCHEMA = [
    "CREATE TABLE contacts (id int AUTO_INCREMENT PRIMARY KEY, name varchar(80) NOT NULL, "
    "slug varchar(80) NOT NULL, shout varchar(80) AS (upper(name)) VIRTUAL, "
    "deleted tinyint(1) NOT NULL DEFAULT 0, CONSTRAINT name_not_blank CHECK (name <> ''))",
    "CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, contact int, what varchar(20))",
    "CREATE FUNCTION slugify(s varchar(80)) RETURNS varchar(80) DETERMINISTIC "
    "RETURN lower(replace(s, ' ', '-'))",
    "CREATE PROCEDURE forget(IN who int) MODIFIES SQL DATA "
    "UPDATE contacts SET deleted = 1 WHERE id = who",
    "CREATE TRIGGER contacts_slug BEFORE INSERT ON contacts FOR EACH ROW "
    "SET NEW.slug = slugify(NEW.name)",
    "CREATE TRIGGER contacts_audit AFTER INSERT ON contacts FOR EACH ROW "
    "INSERT INTO audit (contact, what) VALUES (NEW.id, 'insert')",
    "CREATE VIEW live_contacts AS SELECT id, name, slug FROM contacts WHERE deleted = 0",
    "CREATE VIEW live_names AS SELECT name FROM live_contacts",
    "CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' "
    "DISABLE DO DELETE FROM audit WHERE what = 'old'",
    "INSERT INTO contacts (name) VALUES ('Ann Lee'), ('Bob')",
]


def execute(url: str, statements: Iterable[str]) -> list[tuple[object, ...]]:
    with connect(url) as conn:
        cur = conn.cursor()
        rows: list[tuple[object, ...]] = []
        for statement in statements:
            cur.execute(statement)
            rows = list(cur.fetchall()) if cur.description else []
        return rows


def restore(home: BackupHome, rp_id: str, target: str) -> dict[str, object]:
    run = home.cli("restore", rp_id, "--to", target, "--json")
    assert run.rc == 0, run.out + run.err
    answer: dict[str, object] = json.loads(run.out)
    return answer


def mariadb_schema(url: str) -> str:
    parsed = sa.engine.make_url(url)
    out = subprocess.run(
        ["mariadb-dump", "--no-data", "--routines", "--triggers", "--events",
         "--skip-dump-date", "-h", str(parsed.host), "-P", str(parsed.port or 3306),
         "-u", str(parsed.username), str(parsed.database)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    # comments name the database (its name differs); every statement must match
    return "\n".join(line for line in out.splitlines() if not line.startswith("--"))


@pytest.mark.mariadb
def test_mariadb_views_routines_triggers_and_events_come_back(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("mariadb", filled=False) as source, databases("mariadb", filled=False) as target:
        execute(source, MARIADB_SCHEMA)
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")

        answer = restore(home, rp.id, target)
        assert answer["ok"] and answer["problems"] == [], answer
        assert mariadb_schema(target) == mariadb_schema(source)

        execute(target, ["INSERT INTO contacts (name) VALUES ('Cid Ray')"])
        assert execute(target, ["SELECT slug, shout FROM contacts WHERE name = 'Cid Ray'"]) == [
            ("cid-ray", "CID RAY")
        ]  # the trigger filled the NOT NULL column through the function
        assert execute(target, ["SELECT count(*) FROM audit"]) == [(3,)]  # 2 restored + 1
        execute(target, ["CALL forget(1)"])
        assert execute(target, ["SELECT name FROM live_names ORDER BY name"]) == [
            ("Bob",), ("Cid Ray",)
        ]  # fmt: skip


@pytest.mark.mariadb
def test_mariadb_refuses_what_it_cannot_carry_all_at_once(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("mariadb", filled=False) as source:
        execute(
            source,
            [
                "CREATE TABLE places (id int PRIMARY KEY, at point)",
                "CREATE TABLE years (y int) PARTITION BY RANGE (y) "
                "(PARTITION p0 VALUES LESS THAN (2000), PARTITION p1 VALUES LESS THAN MAXVALUE)",
                "CREATE SEQUENCE invoice_numbers",
            ],
        )
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        run = home.cli("backup", "acme-sas")
    assert run.rc == 3, run.out + run.err
    for named in ("places.at", "partitioned table years", "sequence invoice_numbers"):
        assert named in run.err
    assert home.complete("acme-sas") == []


SQLITE_SCHEMA = """
PRAGMA user_version = 42;
PRAGMA application_id = 1129468244;
CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, slug TEXT);
CREATE TABLE tags (label TEXT PRIMARY KEY, hits INT);
CREATE TABLE notes (body TEXT, contact INT);
CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
CREATE VIEW named AS SELECT id, name FROM contacts WHERE name <> '';
CREATE VIEW named_upper AS SELECT upper(name) AS loud FROM named;
CREATE TRIGGER contacts_slug AFTER INSERT ON contacts BEGIN
    UPDATE contacts SET slug = lower(NEW.name) WHERE id = NEW.id;
END;
INSERT INTO contacts (name) VALUES ('Ann'), ('Bob');
INSERT INTO tags VALUES ('vip', 3), ('lead', 1);
INSERT INTO notes VALUES ('dup', 1), ('dup', 1), ('other', 2);
DELETE FROM notes WHERE body = 'other';
INSERT INTO notes (rowid, body, contact) VALUES (100, 'far', 2);
INSERT INTO kv VALUES ('a', '1');
"""


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def sqlite_dot_schema(path: Path) -> list[str]:
    """``sqlite3 .schema``, one statement each, sorted: a restore builds indexes after the
    rows, so they follow every table in ``sqlite_master`` instead of their own."""
    out = subprocess.run(
        ["sqlite3", str(path), ".schema"], check=True, capture_output=True, text=True
    ).stdout
    return sorted(re.split(r";\n(?=CREATE )", out.strip()))


def test_sqlite_views_triggers_header_and_rowids_come_back(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite", filled=False) as source, databases("sqlite", filled=False) as target:
        with closing(sqlite3.connect(sqlite_file(source))) as conn:
            conn.executescript(SQLITE_SCHEMA)
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")

        answer = restore(home, rp.id, target)
        assert answer["ok"] and answer["problems"] == [], answer
        assert sqlite_dot_schema(sqlite_file(target)) == sqlite_dot_schema(sqlite_file(source))
        with closing(sqlite3.connect(sqlite_file(target))) as conn:
            assert conn.execute("PRAGMA user_version").fetchone() == (42,)
            assert conn.execute("PRAGMA application_id").fetchone() == (1129468244,)
            rowids = conn.execute("SELECT rowid, body FROM notes ORDER BY rowid").fetchall()
            assert rowids == [(1, "dup"), (2, "dup"), (100, "far")]
            tag_ids = conn.execute("SELECT rowid, label FROM tags ORDER BY rowid").fetchall()
            assert tag_ids == [(1, "vip"), (2, "lead")]
            assert conn.execute("SELECT loud FROM named_upper ORDER BY 1").fetchall() == [
                ("ANN",), ("BOB",)
            ]  # fmt: skip
            conn.execute("INSERT INTO contacts (name) VALUES ('Cid')")
            assert conn.execute("SELECT slug FROM contacts WHERE name = 'Cid'").fetchone() == (
                "cid",
            )


def test_sqlite_virtual_tables_are_refused_by_name_with_nothing_stored(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite", filled=False) as source:
        with closing(sqlite3.connect(sqlite_file(source))) as conn:
            conn.executescript(
                "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT);"
                "CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs');"
            )
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        run = home.cli("backup", "acme-sas")
    assert run.rc == 3, run.out + run.err
    assert "virtual table docs_fts" in run.err
    assert home.complete("acme-sas") == []
