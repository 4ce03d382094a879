"""The child process that runs DAGs in real Airflow for ``retention_pipeline.local_airflow``.

Rules this file enforces:
- It is the only test-support module that imports Airflow, and it does so in its own
  process, after ``airflow_env`` has set ``AIRFLOW_HOME`` and the other variables: Airflow
  reads its configuration and opens its metadata DB at import time, so importing it in the
  pytest process would pin one home for the whole session and change logging for every
  other test.
- It stays alive for the whole session: importing Airflow and building the in-process
  Execution API costs about 6 s once; each ``dag.test()`` after that costs well under 1 s.
- Everything Airflow prints while a DAG runs (task logs included: ``dag.test()`` writes no
  per-task log file) goes to that run's log file, by redirecting file descriptors 1 and 2.
  Replies to the parent travel on a private copy of the original stdout.

Protocol: one JSON object per line on stdin (``{"op": "run" | "check" | "quit", ...}``),
one JSON object per line back (``{"ok": true, "result": ...}`` or
``{"ok": false, "error": <exception class>, "message": <text>}``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO


@contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send fds 1 and 2 (and so every logger and print) to ``path`` while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as target:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved, 1)
            os.dup2(saved, 2)
            os.close(saved)


@contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """Apply per-run variables; Airflow reads ``AIRFLOW__SECTION__KEY`` at each lookup."""
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_bag() -> Any:
    """Parse the configured dags folder the way the DAG processor does."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool

    known = {pool.pool for pool in Pool.get_pools() if pool.pool}
    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], known_pools=known)


def check_dags() -> dict[str, Any]:
    """Import errors, pool warnings, DAG ids and per-file parse time of the dags folder."""
    bag = load_bag()
    return {
        "dag_ids": sorted(bag.dag_ids),
        "import_errors": dict(bag.import_errors),
        "warnings": sorted(
            [warning.message for warning in bag.dag_warnings]
            + [text for found in bag.captured_warnings.values() for text in found]
        ),
        "parse_seconds": {stat.file: stat.duration.total_seconds() for stat in bag.dagbag_stats},
    }


def run_dag(request: dict[str, Any]) -> dict[str, Any]:
    """Run one DAG with ``dag.test()`` and read back what it left in the metadata DB."""
    bag = load_bag()
    if bag.import_errors:
        files = ", ".join(sorted(bag.import_errors))
        raise ImportError(f"DAG files failed to import: {files}; see {request['log_path']}")
    dag = bag.get_dag(request["dag_id"])
    if dag is None:
        raise LookupError(
            f"no DAG {request['dag_id']!r} in {os.environ['AIRFLOW__CORE__DAGS_FOLDER']}; "
            f"found {sorted(bag.dag_ids)}"
        )
    kwargs: dict[str, Any] = {"run_conf": request["conf"]}
    if request["logical_date"] is not None:
        kwargs["logical_date"] = datetime.fromisoformat(request["logical_date"])
    dag_run = dag.test(**kwargs)
    return collect(dag_run.dag_id, dag_run.run_id)


def collect(dag_id: str, run_id: str) -> dict[str, Any]:
    """The run's state, every task instance, and every XCom, as JSON-ready data."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).one()
        instances = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        xcoms = session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
        ).all()
        return {
            "dag_id": dag_id,
            "run_id": run_id,
            "state": str(run.state),
            "logical_date": None if run.logical_date is None else run.logical_date.isoformat(),
            "conf": run.conf,
            "tasks": [
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": None if ti.state is None else str(ti.state),
                    "try_number": ti.try_number,
                    "rendered_map_index": ti.rendered_map_index,
                    "pool": ti.pool,
                }
                for ti in instances
            ],
            "xcoms": [
                {
                    "task_id": row.task_id,
                    "map_index": row.map_index,
                    "key": row.key,
                    "value": XComModel.deserialize_value(row),
                }
                for row in xcoms
            ],
        }


def create_pools(pools: dict[str, int]) -> None:
    """Create the pools the DAGs name; the scheduler never queues a task of a missing pool."""
    from airflow.models.pool import Pool

    for name, slots in pools.items():
        Pool.create_or_update_pool(name, slots, "created by the test harness", False)


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request; any exception becomes an error reply, never a dead worker."""
    try:
        if request["op"] == "check":
            with output_to(Path(request["log_path"])):
                return {"ok": True, "result": check_dags()}
        with output_to(Path(request["log_path"])), environment(request["env"]):
            return {"ok": True, "result": run_dag(request)}
    except Exception as error:
        return {"ok": False, "error": type(error).__name__, "message": str(error)}


def warm_up(pools: dict[str, int]) -> None:
    """Pay Airflow's one-off costs now, so the first test does not time out on them."""
    import airflow.dag_processing.dagbag
    import airflow.sdk  # noqa: F401
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    create_pools(pools)
    assert in_process_api_server().transport is not None  # builds the app and its lifespan
    touch_execution_api()


def touch_execution_api() -> None:
    """Send one request the API refuses: its first request costs ~4 s (schema building).

    Uses the private client ``dag.test()`` itself uses; if that moves in a later Airflow,
    nothing breaks: the cost just returns to the first run.
    """
    from uuid import uuid4

    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    try:
        client = InProcessTestSupervisor._api_client()  # type: ignore[no-untyped-call]
        client.task_instances.start(uuid4(), os.getpid(), datetime.now().astimezone())
    except Exception:  # noqa: S110 - a refusal (unknown task instance) is the expected answer
        pass


def serve(replies: TextIO) -> None:
    """Read requests from stdin until ``quit`` or end of input."""
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        reply = handle(request)
        replies.write(json.dumps(reply, default=repr) + "\n")
        replies.flush()


def main() -> None:
    """Keep the real stdout for replies, send fd 1 to the worker log (our stderr), serve."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    pools = json.loads(os.environ.get("RETENTION_TEST_AIRFLOW_POOLS", "{}"))
    try:
        warm_up(pools)
    except Exception as error:
        replies.write(
            json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)})
        )
        replies.write("\n")
        replies.flush()
        raise
    replies.write(json.dumps({"ok": True, "result": "ready"}) + "\n")
    replies.flush()
    serve(replies)
    stop()


def stop() -> None:
    """Close the DB cleanly, then skip interpreter teardown.

    A normal exit waits 5 s for the in-process Execution API's lifespan to close (it never
    does once the interpreter is finalising); everything is already committed.
    """
    from airflow import settings

    settings.dispose_orm()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
