"""The restore's verification checks the schema, not only the rows.

Every backup records the inventory of the source's schema objects (kind, name, digest of
the engine's own definition) in its manifest; a restore compares the target's inventory
with it. A restore that lost a trigger or changed a view must say FAILED, naming both,
whichever engine: the tests make a restore lossy on purpose with a loader that drops a
trigger and rewrites a view after its last phase, on the real servers and on SQLite.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import pytest

from retention_pipeline.envelope.age import decrypt_stream
from retention_pipeline.envelope.manifest import Manifest
from retention_pipeline.envelope.recovery_point import RecoveryPointReader
from retention_pipeline.ports.source import (
    Loader,
    Phase,
    RestoreOptions,
    SchemaObject,
    SchemaSnapshot,
    Table,
    inventory_mismatches,
)
from retention_pipeline.services.restore import _inventory_problems
from tests.backup.conftest import ENGINES, BackupHome
from tests.support.crm import connect

Databases = Callable[..., AbstractContextManager[str]]

# A view and a trigger on the CRM's companies table, in each engine's dialect.
_EXTRA = {
    "postgresql": [
        "CREATE VIEW active_companies AS SELECT id, name FROM companies WHERE active",
        "CREATE FUNCTION trim_name() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.name := trim(NEW.name); RETURN NEW; END $$",
        "CREATE TRIGGER companies_touch BEFORE INSERT ON companies "
        "FOR EACH ROW EXECUTE FUNCTION trim_name()",
    ],
    "mariadb": [
        "CREATE VIEW active_companies AS SELECT id, name FROM companies WHERE active",
        "CREATE TRIGGER companies_touch BEFORE INSERT ON companies "
        "FOR EACH ROW SET NEW.name = TRIM(NEW.name)",
    ],
    "sqlite": [
        "CREATE VIEW active_companies AS SELECT id, name FROM companies WHERE active",
        "CREATE TRIGGER companies_touch AFTER INSERT ON companies BEGIN "
        "UPDATE companies SET name = trim(name) WHERE id = NEW.id; END",
    ],
}
# What the lossy loader does once the restore's last phase ran.
_LOSS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS companies_touch ON companies",
        "CREATE OR REPLACE VIEW active_companies AS SELECT id, name FROM companies",
    ],
    "mariadb": [
        "DROP TRIGGER IF EXISTS companies_touch",
        "CREATE OR REPLACE VIEW active_companies AS SELECT id, name FROM companies",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS companies_touch",
        "DROP VIEW IF EXISTS active_companies",
        "CREATE VIEW active_companies AS SELECT id, name FROM companies",
    ],
}
_NAMES = {
    "postgresql": ("companies_touch ON public.companies", "public.active_companies"),
    "mariadb": ("companies_touch ON companies", "active_companies"),
    "sqlite": ("companies_touch", "active_companies"),
}


def _execute(url: str, statements: Iterable[str]) -> None:
    with connect(url) as conn:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)


class LossyLoader:
    """A real loader that, after the last phase, drops a trigger and changes a view."""

    def __init__(self, inner: Loader, url: str, engine: str) -> None:
        self.inner, self.url, self.engine = inner, url, engine

    def create_schema(
        self, snapshot: SchemaSnapshot, *, phase: Phase, options: RestoreOptions
    ) -> None:
        self.inner.create_schema(snapshot, phase=phase, options=options)
        if phase == "objects":
            self.inner.close()  # SQLite: let our own connection write
            _execute(self.url, _LOSS[self.engine])

    def load_table(self, table: Table, chunks: Iterable[bytes]) -> None:
        self.inner.load_table(table, chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __enter__(self) -> LossyLoader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.inner.close()


def _manifest(home: BackupHome, rp_id: str) -> Manifest:
    installation = home.installation()
    rp = installation.catalog.get_recovery_point(rp_id)
    identity = installation.keyring.identity_for(rp.client_id)
    return RecoveryPointReader(decrypt_stream([identity], [home.stored_bytes(rp)])).manifest


@pytest.mark.parametrize("engine", ENGINES)
def test_a_restore_that_loses_a_trigger_or_changes_a_view_fails_naming_them(
    engine: str,
    home: BackupHome,
    databases: Databases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trigger, view = _NAMES[engine]
    with databases(engine) as source, databases(engine, filled=False) as target:
        _execute(source, _EXTRA[engine])
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")

        recorded = {(o.kind, o.name) for o in _manifest(home, rp.id).objects}
        assert {("trigger", trigger), ("view", view), ("table", _table(engine))} <= recorded

        service = home.installation().restore_service()
        real = service.open_loader
        lossy = dataclasses.replace(
            service, open_loader=lambda url: LossyLoader(real(url), url, engine)
        )
        report = lossy.restore(rp.id, target)

    assert not report.ok
    assert f"trigger {trigger}: missing from the restored database" in report.problems
    assert f"view {view}: its definition differs from the dumped one" in report.problems


def _table(engine: str) -> str:
    return "public.companies" if engine == "postgresql" else "companies"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_faithful_restore_of_the_crm_verifies_its_schema_objects(
    engine: str,
    home: BackupHome,
    databases: Databases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with databases(engine) as source, databases(engine, filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")
        objects = _manifest(home, rp.id).objects
        # every table, and the indexes and constraints the CRM schema declares
        kinds = {o.kind for o in objects}
        assert {"table", "index"} <= kinds
        assert sum(o.kind == "table" for o in objects) == 6

        run = home.cli("restore", rp.id, "--to", target, "--json")
    assert run.rc == 0, run.out + run.err
    answer = json.loads(run.out)
    assert answer["ok"] and answer["problems"] == [] and answer["notes"] == []


def test_inventory_mismatches_name_missing_added_and_changed_objects() -> None:
    dumped = [SchemaObject("view", "v", "a" * 64), SchemaObject("trigger", "t ON x", "b" * 64)]
    restored = [SchemaObject("view", "v", "c" * 64), SchemaObject("rule", "r ON x", "d" * 64)]
    assert inventory_mismatches(dumped, restored) == [
        "rule r ON x: present in the restored database but not the dump",
        "trigger t ON x: missing from the restored database",
        "view v: its definition differs from the dumped one",
    ]
    assert inventory_mismatches(dumped, dumped) == []


def _raw_manifest(version: int, objects: list[dict[str, str]] | None) -> bytes:
    data: dict[str, Any] = {
        "client": "acme-sas",
        "recovery_point": "rp-1",
        "created_at": "2026-12-07T00:00:00+00:00",
        "engine": "sqlite",
        "server_version": "3",
        "tool_version": "0.1.0",
        "schema_sha256": "0" * 64,
        "tables": [
            {
                "name": "t",
                "rows": 1,
                "sha256": "0" * 64,
                "data_format": "sqlite-copy-text",
                "members": ["tables/0000/000000.dat"],
                "size": 2,
            }
        ],
        "documents": [],
        "format": "retention-pipeline/recovery-point",
        "format_version": version,
        "extra": {},
    }
    if objects is not None:
        data["objects"] = objects
    return json.dumps(data).encode()


def test_a_version_1_manifest_reads_and_says_its_schema_is_not_checked() -> None:
    manifest = Manifest.from_bytes(_raw_manifest(1, None))
    assert not manifest.records_inventory
    assert _inventory_problems(manifest) == []


def test_a_version_2_manifest_with_tables_but_no_inventory_is_a_problem() -> None:
    manifest = Manifest.from_bytes(_raw_manifest(2, []))
    assert manifest.records_inventory
    assert _inventory_problems(manifest) == [
        "the manifest records tables but no inventory of schema objects"
    ]
    whole = Manifest.from_bytes(_raw_manifest(2, [{"kind": "table", "name": "t", "sha256": "0"}]))
    assert _inventory_problems(whole) == []


def test_restore_takes_no_owner_and_no_privileges(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")
        run = home.cli("restore", rp.id, "--to", target, "--no-owner", "--no-privileges")
    assert run.rc == 0, run.out + run.err
    assert "verification: OK" in run.out
