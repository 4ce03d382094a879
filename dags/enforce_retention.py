"""enforce_retention: daily, expire what each order form no longer allows us to keep.

The pure planner decides keep or expire with a reason for every recovery point and
archive copy (holds and locks first); expired objects are deleted in every version, then
their catalog rows; a JSON and CSV report lists every item with its reason. With
``dry_run`` the same planner runs and nothing is deleted.

Then the leftovers of interrupted backups (unfinished uploads, objects no complete row
records, attempts abandoned for longer than the 6-hour grace) are removed, client by
client; a dry run skips this step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from retention_pipeline import tasks


@task(show_return_value_in_logs=True)
def apply_retention() -> dict[str, Any]:
    """Plan and apply; returns counts and the report paths."""
    context = get_current_context()
    return tasks.enforce_retention(
        tasks.run_time(context["data_interval_end"]), dry_run=bool(context["params"]["dry_run"])
    )


@task(show_return_value_in_logs=True, trigger_rule="all_done")
def clean_up_leftovers() -> dict[str, Any]:
    """Cleanup of interrupted backups, also after a failed retention step; counts only."""
    context = get_current_context()
    if context["params"]["dry_run"]:
        return {"dry_run": True}
    return tasks.clean_up_leftovers(tasks.run_time(context["data_interval_end"]))


@dag(
    dag_id="enforce_retention",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["retention-pipeline", "retention"],
    params={"dry_run": Param(False, type="boolean", description="Plan only; delete nothing")},
    doc_md=__doc__,
)
def enforce_retention() -> None:
    """Daily retention run, then cleanup."""
    apply_retention() >> clean_up_leftovers()


enforce_retention()
