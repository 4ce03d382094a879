"""audit_compliance in real Airflow: verdicts written as JSON, violations alerted."""

from __future__ import annotations

import json

from retention_pipeline.local_airflow import AirflowEnv
from tests.audit_dags.conftest import Receiver, later, run_env
from tests.dags.conftest import CANARY_DISPLAY, CANARY_EMAIL, CANARY_NAME, RetentionHome

CANARIES = [CANARY_NAME, CANARY_EMAIL, CANARY_DISPLAY]


def test_a_point_kept_past_max_age_fails_the_audit_names_the_control_and_alerts(
    airflow: AirflowEnv, home: RetentionHome, alerts: Receiver
) -> None:
    # 60 days on, with no retention run, each client's point is past its 35d max_age
    run = airflow.run_dag("audit_compliance", logical_date=later(60), config=run_env(home, alerts))
    assert run.state == "failed"
    log = run.log_text()
    assert "controls are not met (client/control)" in log
    assert "acme-sas/C3" in log and "globex-io/C3" in log

    (report,) = sorted((home.path / "reports").glob("compliance-*.json"))
    document = json.loads(report.read_text())
    verdicts = {(r["client_id"], r["control_id"]): r["verdict"] for r in document["results"]}
    assert verdicts[("acme-sas", "C3")] == "non_compliant"
    assert verdicts[("initech-off", "C3")] == "not_applicable"
    assert document["summary"]["non_compliant"] >= 2
    assert not any(canary in report.read_text() for canary in CANARIES)

    (alert,) = alerts.bodies
    assert alert["dag_id"] == "audit_compliance"
    assert alert["task_id"] == "evaluate_controls"
    assert alert["map_index"] == -1 and alert["run_id"] == run.run_id
    assert not any(canary in alerts.raw() for canary in CANARIES)
    assert airflow.search_metadata_db(CANARIES) == []


def test_right_after_the_backups_the_relevant_controls_pass(
    airflow: AirflowEnv, home: RetentionHome, alerts: Receiver
) -> None:
    run = airflow.run_dag("audit_compliance", config=run_env(home, alerts))
    log = run.log_text()
    assert "acme-sas/C3" not in log
    assert "acme-sas/C4" not in log and "acme-sas/C1" not in log
    assert list((home.path / "reports").glob("compliance-*.json"))
