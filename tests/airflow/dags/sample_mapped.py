"""Throwaway DAGs that pin how Airflow 3.3 behaves, for the harness tests only.

They are NOT product DAGs (those live in ``dags/``); they exist to show, under real
Airflow, the patterns the product DAGs rely on: opaque ids through XCom, ``.expand()`` with
a readable ``map_index_template``, retries with exponential backoff, a pool, a validated
``Param``, more than ``max_map_length`` clients through batches, and failure callbacks.
Everything a task writes outside Airflow goes to ``$AIRFLOW_HOME/callbacks.jsonl`` so a
test can see that a callback ran.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

POOL = "sample_backups"
MISSING_POOL = "never_created"
CLIENT_ID = r"^[a-z0-9-]{3,63}$"

RETRIES: dict[str, Any] = {
    "retries": 2,
    # Airflow 3 reads this as a multiplier; True still means 2.0 (doubling).
    "retry_exponential_backoff": True,
    "retry_delay": timedelta(seconds=1),
    # Caps the doubling so a test never waits long: dag.test() polls once a second.
    "max_retry_delay": timedelta(seconds=2),
}

PARAMS = {
    "clients": Param(
        3, type="integer", minimum=0, maximum=100_000, description="How many clients."
    ),
    "batch_size": Param(500, type="integer", minimum=1, maximum=1024),
    "flaky_client": Param(
        None, type=["null", "string"], pattern=CLIENT_ID, description="Fails its first try."
    ),
    "broken_client": Param(
        None, type=["null", "string"], pattern=CLIENT_ID, description="Fails every try."
    ),
}


def record_callback(context: Any) -> None:
    """Append which run/task failed, by id only, where the test can read it."""
    ti = context.get("ti")
    event = {
        "dag_id": context["dag"].dag_id,
        "run_id": context["run_id"],
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "reason": context.get("reason"),
        "kind": "dag" if "reason" in context else "task",
    }
    path = Path(os.environ["AIRFLOW_HOME"]) / "callbacks.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")


def client_ids(count: int) -> list[str]:
    """Opaque, deterministic client ids: the only thing that travels through XCom."""
    return [f"client-{n:05d}" for n in range(count)]


@task(
    **RETRIES,
    pool=POOL,
    map_index_template="{{ task.op_kwargs['client_id'] }}",
    on_failure_callback=record_callback,
)
def back_up(client_id: str) -> str:
    """Stand-in for one service call per client; fails on demand to show retries."""
    context = get_current_context()
    params = context["params"]
    if client_id == params["broken_client"]:
        raise RuntimeError(f"back-up of client {client_id} failed (test: always)")
    if client_id == params["flaky_client"] and context["ti"].try_number == 1:
        raise RuntimeError(f"back-up of client {client_id} failed (test: first try only)")
    return client_id


@task
def list_clients() -> list[str]:
    return client_ids(get_current_context()["params"]["clients"])


@task
def summarise(done: list[str]) -> dict[str, int]:
    # len() asks the API for the count; iterating would probe one XCom past the end and
    # log a harmless but alarming "XCom not found" error.
    return {"backed_up": len(done)}


@dag(
    dag_id="sample_mapped",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    params=PARAMS,
    on_failure_callback=record_callback,
    tags=["test-only"],
)
def sample_mapped() -> None:
    # mypy sees the XComArg, Airflow passes the pulled list: the one ignore DAG files need.
    summarise(back_up.expand(client_id=list_clients()))  # type: ignore[arg-type]


# A list of 1000s of ids is noise in a log line: Airflow logs every return value otherwise.
@task(show_return_value_in_logs=False)
def list_batches() -> list[list[str]]:
    params = get_current_context()["params"]
    ids = client_ids(params["clients"])
    size = params["batch_size"]
    return [ids[start : start + size] for start in range(0, len(ids), size)]


@task(
    pool=POOL,
    map_index_template="{{ task.op_kwargs['batch'][0] }}..{{ task.op_kwargs['batch'][-1] }}",
)
def back_up_batch(batch: list[str]) -> int:
    """One mapped instance per batch; the per-client work is a loop inside it."""
    done = 0
    for client_id in batch:
        done += client_id in batch  # stand-in for one service call per client
    return done


@task
def total(counts: list[int]) -> int:
    return sum(counts)


@dag(
    dag_id="sample_batched",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    params=PARAMS,
    tags=["test-only"],
)
def sample_batched() -> None:
    total(back_up_batch.expand(batch=list_batches()))  # type: ignore[arg-type]


@dag(
    dag_id="sample_unpooled",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["test-only"],
)
def sample_unpooled() -> None:
    """A task in a pool the harness does not create: dag.test() runs it anyway."""
    task(pool=MISSING_POOL)(client_ids)(1)


sample_mapped()
sample_batched()
sample_unpooled()
