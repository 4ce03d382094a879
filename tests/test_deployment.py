"""The production deployment files, checked by parsing (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def airflow_services(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data["services"].items() if k.startswith("airflow-")}


def test_airflow_runs_with_the_celery_executor_on_postgres_and_redis() -> None:
    data = compose()
    services = airflow_services(data)
    assert {
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-worker",
        "airflow-triggerer",
        "airflow-init",
    } <= set(services)
    for name, service in services.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis"), name
        assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["RETENTION_HOME"] == "/opt/retention", name
        assert "./dags:/opt/airflow/dags:ro" in service["volumes"], name
    assert services["airflow-worker"]["command"] == "celery worker"
    assert {"postgres", "redis"} <= set(data["services"])


def test_the_image_pins_airflow_3_3_2_and_installs_from_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", dockerfile, re.M)
    assert "-c /opt/retention-pipeline/constraints.txt" in dockerfile
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    assert "apache-airflow==3.3.2" in constraints


def test_the_pool_the_dags_use_is_created_at_init() -> None:
    init = " ".join(compose()["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init
    pools_in_dags = set(
        re.findall(r'POOL = "([a-z_]+)"', (ROOT / "dags" / "backup_crm_databases.py").read_text())
    )
    assert pools_in_dags == {"crm_dumps"}
    assert "airflow pools set crm_dumps" in init


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for match in re.finditer(r"://[^:/\s]+:([^@\s]+)@", text):
        assert match.group(1).startswith("${"), f"inline password: {match.group(0)}"
    for key, value in re.findall(r"^\s+(\w*PASSWORD\w*):\s*(.+)$", text, re.M):
        assert value.strip().strip('"').startswith("${"), key
