"""certified_erasure: erase a client's every copy, destroy its key, sign a certificate.

Triggered with Params for one client (client request, end of contract, retention
expiry), or daily with no Params as a sweep: clients whose contract ended more than
``erasure.after_contract_end`` ago, then locked copies whose lock has ended (each gets
a certificate that supersedes the first). Refusals (legal hold, the second person
missing) are logged in the evidence log. Ids only cross XCom.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from retention_pipeline import tasks

ID = r"^[a-z0-9-]{3,63}$"
STAFF_ID = r"^[a-z0-9][a-z0-9._-]{1,63}$"  # within domain.ids.STAFF_ID
REF = r"^[A-Za-z0-9_.:#/-]{1,64}$"


@task(show_return_value_in_logs=False)
def list_targets() -> list[dict[str, Any]]:
    """The client named in Params, or the clients the daily sweep finds due."""
    context = get_current_context()
    return tasks.erasure_targets(
        dict(context["params"]), tasks.run_time(context["data_interval_end"])
    )


@task(map_index_template="{{ task.op_kwargs['target']['client'] }}")
def erase(target: dict[str, Any]) -> dict[str, Any]:
    """Erase one client and deliver its certificate; returns ids and status."""
    return tasks.erase_target(target, get_current_context()["run_id"])


@task(show_return_value_in_logs=True, trigger_rule="none_failed")
def sweep_residuals() -> list[str]:
    """Delete copies whose compliance lock has ended; superseding certificates."""
    return tasks.sweep_residual_copies(tasks.run_time(get_current_context()["data_interval_end"]))


@dag(
    dag_id="certified_erasure",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["retention-pipeline", "erasure"],
    params={
        "client": Param(None, type=["null", "string"], pattern=ID, description="Client id"),
        "trigger": Param(
            "client_request",
            type="string",
            enum=["end_of_contract", "client_request", "retention_expiry"],
        ),
        "requested_by": Param(None, type=["null", "string"], pattern=STAFF_ID),
        "approved_by": Param(None, type=["null", "string"], pattern=STAFF_ID),
        "request_ref": Param(None, type=["null", "string"], pattern=REF),
        "dry_run": Param(False, type="boolean", description="Print the scope; delete nothing"),
    },
    doc_md=__doc__,
)
def certified_erasure() -> None:
    """Manual erasure, or the daily sweep."""
    erase.expand(target=list_targets()) >> sweep_residuals()


certified_erasure()
