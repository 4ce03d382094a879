"""The Airflow harness runs real DAGs in real Airflow 3.3, and pins the behaviours our DAGs
rely on: ids through XCom, readable map indexes, retries, pools, validated params, the
``max_map_length`` limit and batching past it, failure callbacks, and a searchable record.

Every test drives ``tests/airflow/dags/sample_mapped.py`` through ``dag.test()`` in the
harness's worker process; nothing here imports Airflow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from retention_pipeline.local_airflow import AirflowEnv, DagRunRefusedError
from tests.airflow.conftest import SAMPLE_POOL

IDS = ["client-00000", "client-00001", "client-00002"]


def callbacks(env: AirflowEnv, run_id: str) -> list[dict[str, Any]]:
    """The failure callbacks the sample DAG recorded for one run."""
    path = env.home / "callbacks.jsonl"
    if not path.exists():
        return []
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [event for event in events if event["run_id"] == run_id]


def test_dags_folder_imports_without_errors_or_pool_warnings(
    sample_airflow: AirflowEnv, record_property: Any
) -> None:
    report = sample_airflow.check_dags()

    assert report.import_errors == {}
    assert report.dag_ids == ("sample_batched", "sample_mapped", "sample_unpooled")
    # The fixture created SAMPLE_POOL; the pool of sample_unpooled is missing on purpose.
    assert report.warnings == (
        "Dag 'sample_unpooled' references non-existent pools: ['never_created']",
    )
    assert set(report.parse_seconds) == {"sample_mapped.py"}
    # Parse time is recorded for the report, not asserted: speed belongs to benchmarks.
    record_property("sample_mapped_parse_seconds", report.parse_seconds["sample_mapped.py"])


def test_mapped_task_gets_one_instance_per_id_named_by_its_id(sample_airflow: AirflowEnv) -> None:
    run = sample_airflow.run_dag("sample_mapped", conf={"clients": 3})

    assert run.state == "success"
    assert run.xcom("list_clients") == IDS
    backups = run.mapped("back_up")
    assert [ti.map_index for ti in backups] == [0, 1, 2]
    assert [ti.rendered_map_index for ti in backups] == IDS
    assert {ti.state for ti in backups} == {"success"}
    assert {ti.pool for ti in backups} == {SAMPLE_POOL}
    assert [run.xcom("back_up", index) for index in range(3)] == IDS
    # A ``-> dict[...]`` annotation makes Airflow push each key as its own XCom too.
    assert run.xcom("summarise") == {"backed_up": 3}
    assert run.xcom("summarise", key="backed_up") == 3
    assert run.conf == {"clients": 3}


def test_logical_date_is_the_one_asked_for(sample_airflow: AirflowEnv) -> None:
    when = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)

    run = sample_airflow.run_dag("sample_mapped", conf={"clients": 1}, logical_date=when)

    assert run.state == "success"
    assert run.logical_date == when
    assert run.run_id.startswith("manual__")  # named after the trigger time, not logical_date


def test_failed_try_is_retried_and_the_run_succeeds(sample_airflow: AirflowEnv) -> None:
    run = sample_airflow.run_dag("sample_mapped", conf={"flaky_client": "client-00001"})

    assert run.state == "success"
    assert [ti.try_number for ti in run.mapped("back_up")] == [1, 2, 1]
    assert "client-00001 failed (test: first try only)" in run.log_text()
    assert callbacks(sample_airflow, run.run_id) == []


def test_task_failing_every_try_fails_the_run_and_calls_both_callbacks(
    sample_airflow: AirflowEnv,
) -> None:
    run = sample_airflow.run_dag("sample_mapped", conf={"broken_client": "client-00002"})

    assert run.state == "failed"
    assert run.task("back_up", 2).state == "failed"
    assert run.task("back_up", 2).try_number == 3  # retries=2
    assert run.task("back_up", 2).rendered_map_index == "client-00002"  # named though failed
    assert run.task("back_up", 0).state == "success"
    assert run.task("summarise").state == "upstream_failed"
    kinds = sorted(
        (event["kind"], event["task_id"], event["map_index"])
        for event in callbacks(sample_airflow, run.run_id)
    )
    assert kinds == [("dag", "back_up", 2), ("task", "back_up", 2)]


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"clients": -1}, "clients"),
        ({"clients": "three"}, "clients"),
        ({"flaky_client": "Not A Client Id"}, "flaky_client"),
    ],
)
def test_conf_that_breaks_a_param_schema_is_rejected_before_any_task(
    sample_airflow: AirflowEnv, conf: dict[str, Any], field: str
) -> None:
    with pytest.raises(
        DagRunRefusedError, match=f"ParamValidationError: Invalid input for param {field}"
    ):
        sample_airflow.run_dag("sample_mapped", conf=conf)


def test_unknown_dag_is_rejected_with_the_ids_that_exist(sample_airflow: AirflowEnv) -> None:
    with pytest.raises(DagRunRefusedError, match=r"no DAG 'backup_clients'.*sample_mapped"):
        sample_airflow.run_dag("backup_clients")


def test_more_ids_than_max_map_length_fail_the_producing_task(sample_airflow: AirflowEnv) -> None:
    run = sample_airflow.run_dag("sample_mapped", conf={"clients": 1025})  # default limit 1024

    assert run.state == "failed"
    assert run.task("list_clients").state == "failed"
    assert run.states()["back_up"] == {"upstream_failed"}
    assert "unmappable_return_value_length" in run.log_text()


def test_max_map_length_is_the_core_setting_read_at_each_run(sample_airflow: AirflowEnv) -> None:
    limited = sample_airflow.run_dag(
        "sample_mapped", conf={"clients": 3}, config={"AIRFLOW__CORE__MAX_MAP_LENGTH": "2"}
    )
    enough = sample_airflow.run_dag(
        "sample_mapped", conf={"clients": 3}, config={"AIRFLOW__CORE__MAX_MAP_LENGTH": "3"}
    )

    assert limited.task("list_clients").state == "failed"
    assert enough.state == "success"


def test_batches_carry_more_ids_than_max_map_length(sample_airflow: AirflowEnv) -> None:
    run = sample_airflow.run_dag("sample_batched", conf={"clients": 2500, "batch_size": 1000})

    assert run.state == "success"
    assert [ti.rendered_map_index for ti in run.mapped("back_up_batch")] == [
        "client-00000..client-00999",
        "client-01000..client-01999",
        "client-02000..client-02499",
    ]
    assert [run.xcom("back_up_batch", index) for index in range(3)] == [1000, 1000, 500]
    assert run.xcom("total") == 2500
    # show_return_value_in_logs=False keeps the 2500 ids out of the task log.
    assert "Returned value not shown" in run.log_text()
    assert "client-01500" not in run.log_text()


def test_search_finds_ids_in_metadata_tables_and_task_logs(sample_airflow: AirflowEnv) -> None:
    run = sample_airflow.run_dag("sample_mapped", conf={"clients": 2})

    hits = sample_airflow.search_metadata_db(["client-00001", "never-written-anywhere"])

    places = {hit.location for hit in hits}
    assert {"xcom.value", "task_instance.rendered_map_index"} <= places
    assert "rendered_task_instance_fields.rendered_fields" in places  # mapped kwargs are stored
    assert str(run.log_path) in places  # "Done. Returned value was: ..." logs return values
    assert {hit.needle for hit in hits} == {"client-00001"}


def test_dag_test_runs_tasks_of_a_pool_missing_from_the_metadata_db(
    sample_airflow: AirflowEnv,
) -> None:
    run = sample_airflow.run_dag("sample_unpooled")

    # The DAG processor warns about it (see the first test), and a real scheduler would
    # never queue the task; dag.test() ignores pools: the harness must create them.
    assert run.state == "success"
    assert run.task("client_ids").pool == "never_created"
