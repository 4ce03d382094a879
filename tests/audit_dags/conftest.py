"""The auditors' DAGs in real Airflow 3.3, with a real HTTP receiver for alerts.

One Airflow worker serves the module (starting one costs seconds); each test gets its own
retention home (``tests.dags.conftest.build_home``: two automated clients on SQLite
sources with a canary contact, one client with everything off), and a receiver on
127.0.0.1 that records every alert POSTed to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from retention_pipeline import bootstrap
from retention_pipeline.local_airflow import AirflowEnv, airflow_home
from retention_pipeline.ports.catalog import IntegrityCheck
from tests.dags.conftest import RetentionHome, build_home

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowEnv]:
    """One Airflow home whose dags folder is the project's ``dags/`` (INFO logs kept)."""
    with airflow_home(
        tmp_path_factory.mktemp("airflow"),
        dags_folder=ROOT / "dags",
        pools={"crm_dumps": 4},
        config={"AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},
    ) as env:
        yield env


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: pytest's output is not the place for request lines."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def raw(self) -> str:
        """Every body received, as one text (for the privacy checks)."""
        return json.dumps(self.bodies, ensure_ascii=False)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A running receiver for the module; tests clear ``bodies`` through ``alerts``."""
    server = Receiver()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def alerts(receiver: Receiver) -> Receiver:
    """The receiver, emptied for this test."""
    receiver.bodies.clear()
    return receiver


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RetentionHome:
    """A home whose two automated clients each have one complete recovery point."""
    home = build_home(tmp_path)
    for name, value in home.env.items():
        monkeypatch.setenv(name, value)
    service = bootstrap.load_installation(home.path).backup_service()
    for client_id in ("acme-sas", "globex-io"):
        service.backup(client_id)
    return home


def checks(home: RetentionHome, client_id: str | None = None) -> list[IntegrityCheck]:
    """The integrity checks the catalog holds, oldest first."""
    return bootstrap.load_installation(home.path).catalog.list_integrity_checks(client_id)


def run_env(home: RetentionHome, receiver: Receiver) -> dict[str, str]:
    """The run's environment: the home, its sources, and the alert webhook."""
    return {**home.env, "RETENTION_ALERT_WEBHOOK": receiver.url}


def later(days: int) -> datetime:
    """A logical date ``days`` after now (the runs act as of their interval's end)."""
    from datetime import timedelta

    return bootstrap.utc_now() + timedelta(days=days)
