"""A dump is one instant of the database, and its description survives JSON unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from retention_pipeline.adapters.dumpers import open_dumper
from retention_pipeline.ports.source import SchemaSnapshot, SourceError, digest_tables
from tests.support.crm import connect, create_crm_schema, fill_crm, table_rows


def test_tables_are_read_as_of_one_instant(server_databases: tuple[str, str]) -> None:
    source = server_databases[0]  # (SQLite writers wait for an open reader: nothing to see)
    create_crm_schema(source)
    fill_crm(source, contacts=60, seed=3)
    before = {t: len(table_rows(source, t)) for t in ("companies", "tags")}

    with open_dumper(source) as dumper:
        snapshot = dumper.schema()
        with connect(source) as conn:  # another session changes both tables meanwhile
            cur = conn.cursor()
            cur.execute("DELETE FROM tags")
            cur.execute("INSERT INTO companies (name) VALUES ('Late SAS')")
            cur.close()
        counts = {d.name: d.rows for d in digest_tables(dumper, snapshot.tables)}

    assert {t: counts[t] for t in before} == before
    assert len(table_rows(source, "tags")) == 0


def test_snapshot_json_round_trips_and_is_stable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    create_crm_schema(url)
    fill_crm(url, contacts=10, seed=1)
    with open_dumper(url) as dumper:
        snapshot = dumper.schema()

    text = snapshot.to_json()
    assert SchemaSnapshot.from_json(text) == snapshot
    assert SchemaSnapshot.from_json(text).to_json() == text
    assert [t.name for t in snapshot.tables] == sorted(t.name for t in snapshot.tables)


def test_snapshot_of_another_format_is_refused() -> None:
    with pytest.raises(SourceError, match="format"):
        SchemaSnapshot.from_dict({"format": "something/else", "tables": []})
