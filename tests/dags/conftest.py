"""The product DAGs in real Airflow 3.3, against a retention home on the embedded default.

One Airflow worker serves the whole module (starting one costs seconds); each test gets
its own retention home, passed to the tasks through ``RETENTION_HOME``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from retention_pipeline.cli.main import main
from retention_pipeline.local_airflow import AirflowEnv, airflow_home

ROOT = Path(__file__).resolve().parents[2]
CANARY_EMAIL = "canary.contact.7f3a@example.org"
CANARY_NAME = "Zéphyrine Canari-Dagtest"
CANARY_DISPLAY = "Canary Display SARL 91c2"

CONFIG = """
catalog: {catalog}
key_custody: {{kind: local, master_key_file: keys/master.key}}
stores:
  backups: {backups}
  archives: {{url: "file://stores/archives", location: eu-west-3}}
connections:
  crm_a: {{url_env: DAGTEST_CRM_A}}
  crm_b: {{url_env: DAGTEST_CRM_B}}
"""

AUTOMATED = """
client: {client}
display_name: {display}
source: {{database: {{connection: {connection}}}}}
backup:
  mode: {mode}
  schedule: "0 2 * * *"
  storage: backups
  retention: {{max_age: 35d, keep: {{daily: 7}}}}
archive:
  enabled: true
  every: monthly
  storage: archives
  retention: {{max_age: 400d}}
legal_basis: contract
"""

OFF = """
client: {client}
display_name: {display}
backup: {{mode: "off"}}
legal_basis: contract
"""


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowEnv]:
    """One Airflow home whose dags folder is the project's ``dags/``."""
    with airflow_home(
        tmp_path_factory.mktemp("airflow"),
        dags_folder=ROOT / "dags",
        pools={"crm_dumps": 4},
        config={"AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},
    ) as env:
        yield env


@dataclass
class RetentionHome:
    """A retention installation and the environment its tasks need."""

    path: Path
    env: dict[str, str]

    def cli(self, *args: str) -> int:
        return main([*args, "--home", str(self.path)])


def make_source(path: Path) -> str:
    """A small CRM with a canary contact; returns its URL."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
        db.execute("INSERT INTO contacts (name, email) VALUES (?, ?)", (CANARY_NAME, CANARY_EMAIL))
        db.executemany(
            "INSERT INTO contacts (name, email) VALUES (?, ?)",
            [(f"n{i}", f"c{i}@x.example") for i in range(20)],
        )
    return f"sqlite:///{path}"


def build_home(
    tmp_path: Path, *, catalog: str = "sqlite:///catalog.db", backups: str = ""
) -> RetentionHome:
    """A home with two automated clients and one with everything off."""
    home = tmp_path / "home"
    (home / "policies").mkdir(parents=True)
    store = backups or '{url: "file://stores/backups", location: eu-west-3}'
    (home / "retention.yaml").write_text(CONFIG.format(catalog=catalog, backups=store))
    for client, connection in (("acme-sas", "crm_a"), ("globex-io", "crm_b")):
        (home / "policies" / f"{client}.yaml").write_text(
            AUTOMATED.format(
                client=client, display=CANARY_DISPLAY, connection=connection, mode="automated"
            )
        )
    (home / "policies" / "initech-off.yaml").write_text(
        OFF.format(client="initech-off", display=CANARY_DISPLAY)
    )
    env = {
        "RETENTION_HOME": str(home),
        "DAGTEST_CRM_A": make_source(tmp_path / "a.db"),
        "DAGTEST_CRM_B": make_source(tmp_path / "b.db"),
    }
    retention = RetentionHome(home, env)
    assert retention.cli("policy", "apply", "--actor", "test") == 0
    return retention


@pytest.fixture
def home(tmp_path: Path) -> RetentionHome:
    """A home on the embedded default (SQLite catalog, folder stores)."""
    return build_home(tmp_path)
