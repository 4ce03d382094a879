"""backup_on_demand: a semi-manual backup, triggered with a client id and who asked.

Params are validated before the run exists: ids only (a free-text reason could carry
personal data into the metadata database, so the reason is a short code or ticket
reference). A client whose backup option is off is refused; the refusal is in the task
log and in the evidence log.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task

from retention_pipeline import tasks

ID = r"^[a-z0-9-]{3,63}$"
STAFF_ID = r"^[a-z0-9][a-z0-9._-]{1,63}$"  # within domain.ids.STAFF_ID
REASON = r"^[A-Za-z0-9_.:#-]{2,64}$"


@task(map_index_template="{{ params.client }}", show_return_value_in_logs=False)
def back_up_now() -> str:
    """One backup of the requested client; returns its recovery point id."""
    params = get_current_context()["params"]
    return tasks.back_up_on_demand(params["client"], params["requested_by"], params["reason"])


@dag(
    dag_id="backup_on_demand",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["retention-pipeline", "backup"],
    params={
        "client": Param(type="string", pattern=ID, description="Opaque client id"),
        "requested_by": Param(type="string", pattern=STAFF_ID, description="Staff id"),
        "reason": Param(type="string", pattern=REASON, description="Ticket or reason code"),
    },
    doc_md=__doc__,
)
def backup_on_demand() -> None:
    """Triggered by an operator for a client's request."""
    back_up_now()


backup_on_demand()
