"""The five DAGs, run by real Airflow 3.3 (``dag.test()``) against a real installation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention_pipeline import bootstrap
from retention_pipeline.local_airflow import AirflowEnv, DagRunRefusedError
from tests.dags.conftest import CANARY_DISPLAY, CANARY_EMAIL, CANARY_NAME, RetentionHome

TICK = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
PRODUCT_DAGS = {"backup_crm_databases", "backup_on_demand", "archive_backups", "enforce_retention"}


def points(home: RetentionHome) -> list[str]:
    catalog = bootstrap.load_installation(home.path).catalog
    return [p.id for p in catalog.list_recovery_points(statuses=["complete"])]


def test_every_dag_file_imports_without_errors_and_without_touching_the_catalog(
    airflow: AirflowEnv,
) -> None:
    report = airflow.check_dags()
    assert report.import_errors == {}
    assert set(report.dag_ids) >= PRODUCT_DAGS
    assert report.warnings == ()  # every pool our DAGs use exists


def test_scheduled_backup_maps_one_task_per_due_client_and_a_rerun_adds_nothing(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    run = airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    assert run.state == "success", run.log_text()[-3000:]
    mapped = run.mapped("back_up")
    assert sorted(t.rendered_map_index for t in mapped) == ["acme-sas", "globex-io"]
    assert all(t.pool == "crm_dumps" for t in mapped)
    assert run.xcom("list_due_clients") == [["acme-sas"], ["globex-io"]]
    first = sorted(points(home))
    assert len(first) == 2

    again = airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    assert again.state == "success"
    assert sorted(points(home)) == first  # same slot: nothing new


def test_on_demand_backup_records_the_requester_and_refuses_a_client_whose_option_is_off(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    conf = {"client": "acme-sas", "requested_by": "support-42", "reason": "TICKET-1234"}
    run = airflow.run_dag("backup_on_demand", conf=conf, config=home.env)
    assert run.state == "success", run.log_text()[-3000:]
    catalog = bootstrap.load_installation(home.path).catalog
    (rp,) = catalog.list_recovery_points("acme-sas")
    assert rp.requested_by == "support-42" and rp.status == "complete"

    off = {"client": "initech-off", "requested_by": "support-42", "reason": "TICKET-1235"}
    refused = airflow.run_dag("backup_on_demand", conf=off, config=home.env)
    assert refused.state == "failed"
    assert "no active backup option" in refused.log_text()
    actions = [(e.action, e.subjects.get("client")) for e in catalog.evidence_entries()]
    assert ("backup.refused", "initech-off") in actions
    assert catalog.list_recovery_points("initech-off") == []


def test_on_demand_params_are_validated_before_any_run_exists(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    bad = {"client": "Not A Client!", "requested_by": "support-42", "reason": "TICKET-1"}
    with pytest.raises(DagRunRefusedError):
        airflow.run_dag("backup_on_demand", conf=bad, config=home.env)


def test_archive_then_retention_in_airflow(airflow: AirflowEnv, home: RetentionHome) -> None:
    assert (
        airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env).state
        == "success"
    )
    archived = airflow.run_dag("archive_backups", logical_date=TICK, config=home.env)
    assert archived.state == "success", archived.log_text()[-3000:]
    catalog = bootstrap.load_installation(home.path).catalog
    copies = catalog.list_archive_copies()
    assert {c.client_id for c in copies} == {"acme-sas", "globex-io"}
    assert all(c.store == "archives" for c in copies)

    later = datetime(2027, 2, 1, tzinfo=UTC)  # past the 35-day max_age of both points
    dry = airflow.run_dag(
        "enforce_retention", conf={"dry_run": True}, logical_date=later, config=home.env
    )
    assert dry.state == "success"
    assert len(points(home)) == 2
    real = airflow.run_dag("enforce_retention", logical_date=later, config=home.env)
    assert real.state == "success"
    assert points(home) == []
    reports = sorted(Path(p).name for p in (home.path / "reports").iterdir())
    assert any(name.endswith("-dry-run.json") for name in reports)
    assert any(name.endswith(".csv") and "dry-run" not in name for name in reports)


def test_no_personal_data_or_key_reaches_airflow(airflow: AirflowEnv, home: RetentionHome) -> None:
    airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    airflow.run_dag(
        "backup_on_demand",
        conf={"client": "globex-io", "requested_by": "support-42", "reason": "TICKET-9"},
        config=home.env,
    )
    airflow.run_dag("archive_backups", logical_date=TICK, config=home.env)
    installation = bootstrap.load_installation(home.path)
    identity = installation.keyring.identity_for("acme-sas").to_string()
    master = (home.path / "keys" / "master.key").read_bytes()
    needles = [CANARY_EMAIL, CANARY_NAME, CANARY_DISPLAY, identity, master.hex()]
    assert airflow.search_metadata_db(needles) == []
    # The search does see what Airflow stores: the opaque ids are there.
    assert airflow.search_metadata_db(["globex-io"]) != []
