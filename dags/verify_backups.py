"""verify_backups: daily, prove the backups can be read back (control C7).

Wiring only (docs/design.md, "Restore"). Two independent branches:

* rolling integrity: today's slice of the complete recovery points (each point once per
  ``verify_window_days`` cycle, like ``restic check --read-data-subset``, plus any point
  never verified) in batches, one mapped task per batch: fetch, SHA-256, decrypt,
  checksums, each recorded as an integrity check;
* restore drills: clients without a passed drill within ``drill_window_days``, one mapped
  task per client: the newest recovery point restored into a scratch database of the
  source's engine, compared table by table, recorded, the scratch database dropped.

A failed check fails its task, naming recovery point ids; the DAG's failure callback
alerts the operators (``retention_pipeline.notify``). Ids alone cross XCom. No Airflow
retries: the store adapters already retry transient errors, so a failed read is a finding
to report now; it is recorded, and the point (or client) is checked again the next day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from retention_pipeline import audit_tasks, tasks
from retention_pipeline.notify import failure_callback


@task(show_return_value_in_logs=False)
def integrity_slice() -> list[list[str]]:
    """Batches of the recovery point ids to verify today."""
    context = get_current_context()
    return audit_tasks.integrity_slice(
        tasks.run_time(context["data_interval_end"]), context["params"]["verify_window_days"]
    )


@task(
    map_index_template="{{ task.op_kwargs['batch'] | join(',') | truncate(60) }}",
    show_return_value_in_logs=True,
)
def verify(batch: list[str]) -> dict[str, Any]:
    """Read back each point of the batch; counts out, failed ids in the error."""
    return audit_tasks.verify_batch(
        batch, tasks.run_time(get_current_context()["data_interval_end"])
    )


@task(show_return_value_in_logs=True)
def drill_clients() -> list[str]:
    """Client ids due for a restore drill."""
    context = get_current_context()
    return audit_tasks.drill_clients(
        tasks.run_time(context["data_interval_end"]), context["params"]["drill_window_days"]
    )


@task(
    map_index_template="{{ task.op_kwargs['client_id'] }}",
    show_return_value_in_logs=True,
)
def restore_drill(client_id: str) -> dict[str, Any]:
    """Restore the client's newest point into a scratch database and compare."""
    return audit_tasks.restore_drill(
        client_id, tasks.run_time(get_current_context()["data_interval_end"])
    )


@dag(
    dag_id="verify_backups",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["retention-pipeline", "audit"],
    params={
        "verify_window_days": Param(30, type="integer", minimum=1, maximum=366),
        "drill_window_days": Param(90, type="integer", minimum=1, maximum=3660),
    },
    on_failure_callback=failure_callback(),
    doc_md=__doc__,
)
def verify_backups() -> None:
    """Daily integrity slice and restore drills."""
    verify.expand(batch=integrity_slice())
    restore_drill.expand(client_id=drill_clients())


verify_backups()
