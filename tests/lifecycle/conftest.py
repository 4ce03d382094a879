"""A home with a SQLite CRM source, a backup store and an archive store (folders)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention_pipeline import bootstrap
from retention_pipeline.cli.main import main
from retention_pipeline.services.backup import BackupResult

CONFIG = """
catalog: sqlite:///catalog.db
key_custody: {kind: local, master_key_file: keys/master.key}
stores:
  backups: {url: "file://stores/backups", location: eu-west-3}
  archives: {url: "file://stores/archives", location: eu-west-3}
connections:
  crm: {url_env: LIFECYCLE_CRM_URL}
"""

POLICY = """
client: acme-sas
display_name: ACME SAS
source: {database: {connection: crm}}
backup:
  mode: automated
  schedule: "0 2 * * *"
  storage: backups
  retention: {max_age: 35d, min_age: 2d, keep: {daily: 7, weekly: 4}}
archive:
  enabled: true
  every: monthly
  storage: archives
  retention: {max_age: 400d}
legal_basis: contract
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configured home whose single client has backups and monthly archives."""
    h = tmp_path / "home"
    (h / "policies").mkdir(parents=True)
    (h / "retention.yaml").write_text(CONFIG)
    (h / "policies" / "acme-sas.yaml").write_text(POLICY)
    source = tmp_path / "crm.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, note TEXT)")
        db.executemany("INSERT INTO contacts (note) VALUES (?)", [("n",)] * 10)
    monkeypatch.setenv("LIFECYCLE_CRM_URL", f"sqlite:///{source}")
    assert main(["policy", "apply", "--home", str(h), "--actor", "test"]) == 0
    return h


BackupAt = Callable[[datetime], BackupResult]


@pytest.fixture
def backup_at(home: Path) -> BackupAt:
    """Take a real backup as if the clock said ``at`` (to build a dated history)."""
    installation = bootstrap.load_installation(home)

    def take(at: datetime) -> BackupResult:
        service = replace(installation.backup_service(), clock=lambda: at)
        return service.backup("acme-sas", scheduled_for=at)

    return take


def day(n: int) -> datetime:
    """Day ``n`` of a fixed calendar (2026-01-01 is day 0), at 02:00 UTC."""
    return datetime(2026, 1, 1, 2, tzinfo=UTC) + (n * (datetime(2026, 1, 2) - datetime(2026, 1, 1)))
