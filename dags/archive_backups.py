"""archive_backups: daily, copy due recovery points onto each client's archive store.

Wiring only (docs/design.md, "Archive"): clients with the archive option, in batches;
each mapped task copies, verifies by SHA-256 and records. A copy that fails
verification is removed and the task fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from retention_pipeline import tasks


@task(show_return_value_in_logs=False)
def list_archive_clients() -> list[list[str]]:
    """Batches of client ids whose archive option is on."""
    return tasks.archive_batches()


@task(
    retries=2,
    retry_delay=timedelta(minutes=5),
    retry_exponential_backoff=2.0,
    map_index_template="{{ task.op_kwargs['batch'] | join(',') | truncate(60) }}",
    show_return_value_in_logs=False,
)
def archive(batch: list[str]) -> list[str]:
    """Archive the batch's due recovery points; returns the new archive copy ids."""
    return tasks.archive_batch(batch)


@dag(
    dag_id="archive_backups",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["retention-pipeline", "archive"],
    doc_md=__doc__,
)
def archive_backups() -> None:
    """Daily archive copies."""
    archive.expand(batch=list_archive_clients())


archive_backups()
