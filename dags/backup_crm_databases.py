"""backup_crm_databases: every hour, one recovery point per client whose schedule is due.

Wiring only (docs/design.md, "Backup"): the first task lists due clients in batches, one
mapped task per batch backs them up. Ids alone cross XCom. A retry or a rerun of the
same run reuses each client's recovery point for its scheduled slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from retention_pipeline import tasks

DUMP_POOL = "crm_dumps"


@task(show_return_value_in_logs=False)
def list_due_clients() -> list[list[str]]:
    """Batches of due client ids (one id per batch up to 1024 clients)."""
    return tasks.due_backup_batches(tasks.run_time(get_current_context()["data_interval_end"]))


@task(
    pool=DUMP_POOL,
    retries=3,
    retry_delay=timedelta(minutes=1),
    retry_exponential_backoff=2.0,
    max_retry_delay=timedelta(minutes=30),
    map_index_template="{{ task.op_kwargs['batch'] | join(',') | truncate(60) }}",
    show_return_value_in_logs=False,
)
def back_up(batch: list[str]) -> list[str]:
    """Back up the batch's clients; returns their recovery point ids."""
    return tasks.back_up_batch(batch, tasks.run_time(get_current_context()["data_interval_end"]))


@dag(
    dag_id="backup_crm_databases",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["retention-pipeline", "backup"],
    doc_md=__doc__,
)
def backup_crm_databases() -> None:
    """Hourly tick; each client's own cron decides whether it is due."""
    back_up.expand(batch=list_due_clients())


backup_crm_databases()
