"""audit_compliance: daily, check that what is stored matches every order form.

Wiring only (docs/design.md): one task signs the evidence log's checkpoint into the
witness store (``log checkpoint-evidence``), then one evaluates controls C1-C10 over the
catalog, whatever the first did, and writes the verdicts as JSON under the home's
reports folder (the HTML report for people comes from ``retention-pipeline audit
report``). A non-compliant control fails the task, naming each client and control by
id, and the DAG's failure callback alerts the operators (``retention_pipeline.notify``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, get_current_context, task

from retention_pipeline import audit_tasks, tasks
from retention_pipeline.notify import failure_callback


@task(show_return_value_in_logs=True)
def checkpoint_evidence() -> dict[str, Any]:
    """The witness store and the size signed; fails when the evidence log does not verify."""
    return audit_tasks.checkpoint_evidence(
        tasks.run_time(get_current_context()["data_interval_end"])
    )


# all_done: a log that fails verification is not signed, and the audit must still run
# to report it (C9) with every other control.
@task(show_return_value_in_logs=True, trigger_rule="all_done")
def evaluate_controls() -> dict[str, Any]:
    """Counts per verdict and the report path; fails on any non-compliant control."""
    return audit_tasks.audit_compliance(tasks.run_time(get_current_context()["data_interval_end"]))


@dag(
    dag_id="audit_compliance",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["retention-pipeline", "audit"],
    on_failure_callback=failure_callback(),
    doc_md=__doc__,
)
def audit_compliance() -> None:
    """Daily evidence checkpoint, then the compliance audit."""
    checkpoint_evidence() >> evaluate_controls()


audit_compliance()
