"""A client's CRM comes back whole: dump, restore into an empty database, compare.

Runs on every engine against the real servers (PostgreSQL, MariaDB) or files (SQLite).
"""

from __future__ import annotations

import pytest

from retention_pipeline.adapters.dumpers import open_dumper, open_loader
from retention_pipeline.errors import RefusedError
from retention_pipeline.ports.source import (
    digest_tables,
    inventory_mismatches,
    table_dump_mismatches,
)
from tests.dumpers.restore import dump_all, restore, structure
from tests.support.crm import TABLES, create_crm_schema, fill_crm, insert_company, table_rows


def _filled(url: str, contacts: int = 300) -> str:
    create_crm_schema(url)
    fill_crm(url, contacts=contacts, seed=20260501)
    return url


def test_restore_gives_back_every_row_and_the_same_schema(databases: tuple[str, str]) -> None:
    source, target = _filled(databases[0]), databases[1]
    snapshot, data, digests = dump_all(source)

    restore(target, snapshot, data, chunk=7)  # chunks that cut rows and escapes anywhere

    assert sorted(t.name for t in snapshot.tables) == sorted(TABLES)
    for table in TABLES:
        rows = table_rows(source, table)
        assert rows, f"the CRM fixture left {table} empty"
        assert table_rows(target, table) == rows, table
    with open_dumper(target) as dumper:
        restored = dumper.schema()
        assert structure(restored) == structure(snapshot)
        assert inventory_mismatches(snapshot.objects, restored.objects) == []
        assert table_dump_mismatches(digests, digest_tables(dumper, restored.tables)) == []
    assert {d.name: d.rows for d in digests} == {t: len(table_rows(source, t)) for t in TABLES}


def test_schema_snapshot_keeps_keys_indexes_and_counters(databases: tuple[str, str]) -> None:
    snapshot, _, _ = dump_all(_filled(databases[0], contacts=40))

    assert snapshot.table("contacts").primary_key == ("id",)
    assert snapshot.table("tags").primary_key == ()
    assert ("company_id", "reference") in {
        u.columns for u in snapshot.table("opportunities").uniques
    }
    assert ("email",) in {u.columns for u in snapshot.table("contacts").uniques}
    index = next(i for i in snapshot.indexes if i.name == "activities_contact_happened_idx")
    assert (index.table, index.columns, index.unique) == (
        "activities",
        ("contact_id", "happened_at"),
        False,
    )
    cascade = {(f.table, f.ref_table): f.on_delete for f in snapshot.foreign_keys}
    assert cascade[("opportunities", "companies")] == "CASCADE"
    assert cascade[("contacts", "companies")] == "SET NULL"
    owners = {s.owned_by for s in snapshot.sequences}
    assert "companies.id" in owners


def test_new_rows_after_restore_get_the_next_id_not_a_clash(databases: tuple[str, str]) -> None:
    source, target = _filled(databases[0]), databases[1]
    snapshot, data, _ = dump_all(source)
    restore(target, snapshot, data)

    assert insert_company(target, "Next SAS") == insert_company(source, "Next SAS") == 900


def test_same_data_dumps_to_the_same_bytes(databases: tuple[str, str]) -> None:
    source = _filled(databases[0])
    first_schema, first, first_digests = dump_all(source)
    second_schema, second, second_digests = dump_all(source)

    assert second == first
    assert second_digests == first_digests
    # pg_dump's archive in ``native`` records the second it was made: compared without it
    assert structure(second_schema).to_json() == structure(first_schema).to_json()


def test_non_empty_target_is_detected_and_refused(databases: tuple[str, str]) -> None:
    source, target = _filled(databases[0], contacts=20), databases[1]
    snapshot, _, _ = dump_all(source)
    with open_loader(target) as loader:
        assert loader.is_empty()
        assert not loader.has_table("contacts")
    create_crm_schema(target)

    with open_loader(target) as loader:
        assert not loader.is_empty()
        assert loader.has_table("contacts") and not loader.has_table("contact")
        with pytest.raises(RefusedError, match="not empty"):
            loader.create_schema(snapshot, phase="tables")


def test_load_errors_name_the_table_and_never_the_data(databases: tuple[str, str]) -> None:
    source, target = _filled(databases[0], contacts=20), databases[1]
    snapshot, data, _ = dump_all(source)
    restore(target, snapshot, data)
    contacts = snapshot.table("contacts")

    with open_loader(target) as loader, pytest.raises(Exception) as caught:
        loader.load_table(contacts, [data["contacts"]])  # duplicate keys and e-mails

    message = str(caught.value)
    assert "contacts" in message
    assert "example.test" not in message and "Person" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
