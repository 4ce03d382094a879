"""verify_backups in real Airflow: the rolling integrity slice and the restore drills."""

from __future__ import annotations

from retention_pipeline import audit_tasks, bootstrap
from retention_pipeline.local_airflow import AirflowEnv
from tests.audit_dags.conftest import Receiver, checks, later, run_env
from tests.dags.conftest import CANARY_DISPLAY, CANARY_EMAIL, CANARY_NAME, RetentionHome

CANARIES = [CANARY_NAME, CANARY_EMAIL, CANARY_DISPLAY]


def test_both_dag_files_import_and_use_no_missing_pool(airflow: AirflowEnv) -> None:
    report = airflow.check_dags()
    assert report.import_errors == {}
    assert {"verify_backups", "audit_compliance"} <= set(report.dag_ids)
    assert report.warnings == ()


def test_every_point_is_verified_and_each_client_drilled_into_a_scratch_sqlite_database(
    airflow: AirflowEnv, home: RetentionHome, alerts: Receiver
) -> None:
    run = airflow.run_dag("verify_backups", logical_date=later(1), config=run_env(home, alerts))
    assert run.state == "success", run.log_text()[-3000:]

    catalog = bootstrap.load_installation(home.path).catalog
    points = {p.id for p in catalog.list_recovery_points(statuses=["complete"])}
    recorded = checks(home)
    verified = {c.recovery_point_id for c in recorded if c.kind == "verify"}
    assert verified == points  # never verified: all of them join today's slice
    assert all(c.result == "passed" for c in recorded)
    drilled = sorted(c.client_id for c in recorded if c.kind == "restore_drill")
    assert drilled == ["acme-sas", "globex-io"]  # the client with no backup option is not
    drill = next(c for c in recorded if c.kind == "restore_drill")
    assert drill.details["rows"] > 0 and drill.details["problems"] == 0
    assert sorted(str(t.rendered_map_index) for t in run.mapped("restore_drill")) == [
        "acme-sas",
        "globex-io",
    ]
    assert alerts.bodies == []  # success: no alert

    # the next day, nothing is new: the slice holds only that day's share, no drill is due
    again = airflow.run_dag("verify_backups", logical_date=later(2), config=run_env(home, alerts))
    assert again.state == "success", again.log_text()[-3000:]
    assert again.xcom("drill_clients") == []
    assert airflow.search_metadata_db(CANARIES) == []


def test_a_tampered_object_fails_verification_and_the_drill_and_alerts_the_operators(
    airflow: AirflowEnv, home: RetentionHome, alerts: Receiver
) -> None:
    catalog = bootstrap.load_installation(home.path).catalog
    (victim,) = catalog.list_recovery_points("acme-sas", statuses=["complete"])
    stored = home.path / "stores" / "backups" / victim.key
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    run = airflow.run_dag("verify_backups", logical_date=later(1), config=run_env(home, alerts))
    assert run.state == "failed"
    log = run.log_text()
    assert f"{victim.id} (RecoveryPointCorruptError)" in log

    by_kind = {(c.client_id, c.kind): c for c in checks(home)}
    failed = by_kind[("acme-sas", "verify")]
    assert failed.result == "failed" and failed.recovery_point_id == victim.id
    assert failed.details["error"] == "RecoveryPointCorruptError"
    assert by_kind[("acme-sas", "restore_drill")].result == "failed"
    assert by_kind[("globex-io", "verify")].result == "passed"  # one bad point stops no other
    assert by_kind[("globex-io", "restore_drill")].result == "passed"

    (alert,) = alerts.bodies  # the DAG's callback fires once per failed run
    assert alert["dag_id"] == "verify_backups" and alert["reason"] == "task_failure"
    assert alert["task_id"] in {"verify", "restore_drill"}
    assert set(alert) == {"dag_id", "run_id", "task_id", "map_index", "reason", "error"}
    assert not any(canary in alerts.raw() for canary in CANARIES)
    assert airflow.search_metadata_db(CANARIES) == []
    # a point whose last verification failed is read again every day until it passes
    tomorrow = audit_tasks.integrity_slice(later(3), 30, home=str(home.path))
    assert victim.id in [rp_id for batch in tomorrow for rp_id in batch]
