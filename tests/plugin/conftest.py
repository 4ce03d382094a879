"""A real ``airflow api-server`` with our plugin, over a home with a backup and an erasure.

The home has two clients on folder stores: ``acme-sas`` (one recovery point, kept) and
``globex-io`` (backed up, then erased: one signed certificate in the log). Personal
values are planted as canaries: display names, a purpose naming a person, a contract
reference, a contact e-mail in the CRM source, and ``acme-sas``'s age identity.

The server runs in its own process with its own ``AIRFLOW_HOME`` (SQLite metadata DB,
migrated first), the repository's ``plugins/`` folder and one SimpleAuthManager user
whose password we write ourselves. Starting it takes ~15-25 s on two cores, so it is a
module-scoped fixture. If it does not answer, the tests skip outside CI and fail under
``CI=true`` (``tests/support/services.py``).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from retention_pipeline import bootstrap
from retention_pipeline.cli.main import main
from tests.support.services import in_ci

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
USER, PASSWORD = "auditor", "plugin-test-password-7f3a"
KEPT, ERASED = "acme-sas", "globex-io"
CONTACT_EMAIL = "jeanne.martin@acme.example"
CANARIES = [
    "ACME SAS Holding",
    "Globex Industries SARL",
    "Restauration pour Jeanne Martin",
    "BC-2026-0042",
    CONTACT_EMAIL,
    "file://certificates/dpo-desk-7731",
]
START_TIMEOUT_S = 60.0

SETTINGS = {
    "catalog": "sqlite:///catalog.db",
    "key_custody": {"kind": "local", "master_key_file": "keys/master.key"},
    "signing_key": "keys/certificates.ed25519",
    "stores": {
        "backups": {"url": "file://stores/backups", "location": "eu-west-3"},
        "archives": {"url": "file://stores/archives", "location": "eu-west-3"},
    },
    "connections": {"crm": {"url_env": "PLUGIN_CRM_URL"}},
}


def _policy(client: str, display_name: str) -> dict[str, object]:
    return {
        "client": client,
        "display_name": display_name,
        "contract": {"reference": "BC-2026-0042", "ends_on": None},
        "source": {"database": {"connection": "crm"}},
        "backup": {
            "mode": "automated",
            "schedule": "0 2 * * *",
            "storage": "backups",
            "retention": {"max_age": "35d"},
        },
        "purpose": "Restauration pour Jeanne Martin",
        "legal_basis": "contract",
        "erasure": {
            "after_contract_end": "30d",
            "certificate_to": ["file://certificates/dpo-desk-7731"],
            "approval": "required",
        },
    }


@dataclass(frozen=True)
class PluginServer:
    """The running API server, a token for it, and what the home holds."""

    url: str
    token: str
    canaries: list[str]
    certificate_id: str
    kept_point: str

    def get(self, path: str, *, token: str | None = None) -> tuple[int, bytes]:
        """GET ``path``; returns (status, body) for every status, 4xx included."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(self.url + path, headers=headers, timeout=30)
        return response.status_code, response.content

    def json(self, path: str) -> object:
        """GET ``path`` with the token; the body as JSON (must be 200)."""
        status, body = self.get(path, token=self.token)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


def build_home(root: Path) -> tuple[Path, list[str], str, str]:
    """The home, its canaries, the certificate id and the kept recovery point id."""
    home = root / "home"
    (home / "policies").mkdir(parents=True)
    (home / "retention.yaml").write_text(yaml.safe_dump(SETTINGS), encoding="utf-8")
    for client, name in ((KEPT, "ACME SAS Holding"), (ERASED, "Globex Industries SARL")):
        document = yaml.safe_dump(_policy(client, name), allow_unicode=True)
        (home / "policies" / f"{client}.yaml").write_text(document, encoding="utf-8")
    source = root / "crm.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT)")
        db.execute("INSERT INTO contacts (email) VALUES (?)", (CONTACT_EMAIL,))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PLUGIN_CRM_URL", f"sqlite:///{source}")
        assert main(["policy", "apply", "--home", str(home), "--actor", "tester"]) == 0
        installation = bootstrap.load_installation(home)
        kept = installation.backup_service().backup(KEPT)
        installation.backup_service().backup(ERASED)
        identity = installation.keyring.identity_for(KEPT).to_string()
        erase = ["erase", ERASED, "--trigger", "client_request", "--requested-by", "staff-0012"]
        assert main([*erase, "--approved-by", "staff-0003", "--home", str(home)]) == 0
    (certificate,) = bootstrap.load_installation(home).catalog.list_certificates(ERASED)
    return home, [*CANARIES, identity], certificate.id, kept.recovery_point_id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _airflow_env(airflow_home: Path, retention_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    passwords = airflow_home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}), encoding="utf-8")
    (airflow_home / "dags").mkdir(exist_ok=True)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": "plugin-test-jwt-secret-0123456789abcdef",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__API__WORKERS": "1",
            "RETENTION_HOME": str(retention_home),
        }
    )
    return env


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def _wait_for_token(url: str, process: subprocess.Popen[bytes], log: Path) -> str:
    """Poll ``/auth/token`` until the server answers (bounded), then return the token."""
    credentials = {"username": USER, "password": PASSWORD}
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            response = httpx.post(url + "/auth/token", json=credentials, timeout=5)
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if response.status_code in (200, 201):
            return str(response.json()["access_token"])
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    _unavailable(f"airflow api-server did not answer on {url} (log {log}):\n{tail}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginServer]:
    """A running ``airflow api-server`` with the plugin; stopped when the module ends."""
    root = tmp_path_factory.mktemp("plugin")
    home, canaries, certificate_id, kept_point = build_home(root)
    airflow_home = root / "airflow"
    airflow_home.mkdir()
    env = _airflow_env(airflow_home, home)
    log = airflow_home / "api-server.log"
    with log.open("wb") as out:
        migrated = subprocess.run(
            [str(AIRFLOW), "db", "migrate"], env=env, stdout=out, stderr=out, timeout=180
        )
    if migrated.returncode != 0:
        _unavailable(f"airflow db migrate failed; see {log}")
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                str(AIRFLOW),
                "api-server",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--workers",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        token = _wait_for_token(url, process, log)
        yield PluginServer(url, token, canaries, certificate_id, kept_point)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
