"""What a DAG run left behind, as plain values the tests assert on.

The worker (``local_airflow.worker``) reads these from the Airflow metadata DB after
``dag.test()`` returns and sends them as JSON; nothing here imports Airflow. States are
Airflow's own strings (``success``, ``failed``, ``upstream_failed``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

NO_MAP_INDEX = -1


@dataclass(frozen=True)
class TaskRun:
    """One task instance: a task, or one element of a mapped task."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    rendered_map_index: str | None
    pool: str


@dataclass(frozen=True)
class XComValue:
    """One XCom row, its value decoded the way a downstream task would see it."""

    task_id: str
    map_index: int
    key: str
    value: Any


@dataclass(frozen=True)
class DagRunResult:
    """The outcome of ``AirflowEnv.run_dag``: run state, task instances, XComs, log file."""

    dag_id: str
    run_id: str
    state: str
    logical_date: datetime | None
    conf: dict[str, Any]
    tasks: tuple[TaskRun, ...]
    xcoms: tuple[XComValue, ...]
    log_path: Path

    @classmethod
    def from_json(cls, data: dict[str, Any], log_path: Path) -> DagRunResult:
        return cls(
            dag_id=data["dag_id"],
            run_id=data["run_id"],
            state=data["state"],
            logical_date=(
                None
                if data["logical_date"] is None
                else datetime.fromisoformat(data["logical_date"])
            ),
            conf=data["conf"] or {},
            tasks=tuple(TaskRun(**task) for task in data["tasks"]),
            xcoms=tuple(XComValue(**row) for row in data["xcoms"]),
            log_path=log_path,
        )

    def task(self, task_id: str, map_index: int = NO_MAP_INDEX) -> TaskRun:
        """The task instance ``task_id[map_index]``; KeyError names what exists."""
        for run in self.tasks:
            if run.task_id == task_id and run.map_index == map_index:
                return run
        known = sorted({(run.task_id, run.map_index) for run in self.tasks})
        raise KeyError(f"no task instance {task_id}[{map_index}] in {self.run_id}; have {known}")

    def mapped(self, task_id: str) -> list[TaskRun]:
        """Every instance of ``task_id``, by map index (one with index -1 if not expanded)."""
        return sorted(
            (run for run in self.tasks if run.task_id == task_id), key=lambda run: run.map_index
        )

    def states(self) -> dict[str, set[str | None]]:
        """task_id -> the set of states of its instances: a compact view for assertions."""
        found: dict[str, set[str | None]] = {}
        for run in self.tasks:
            found.setdefault(run.task_id, set()).add(run.state)
        return found

    def xcom(self, task_id: str, map_index: int = NO_MAP_INDEX, key: str = "return_value") -> Any:
        """The value ``task_id[map_index]`` pushed under ``key``; KeyError when it pushed none."""
        for row in self.xcoms:
            if (row.task_id, row.map_index, row.key) == (task_id, map_index, key):
                return row.value
        raise KeyError(f"no XCom {key!r} from {task_id}[{map_index}] in {self.run_id}")

    def log_text(self) -> str:
        """Everything Airflow printed during the run (task logs included)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class DagBagReport:
    """The dags folder as the DAG processor sees it."""

    dag_ids: tuple[str, ...]
    import_errors: dict[str, str]
    warnings: tuple[str, ...]
    parse_seconds: dict[str, float]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DagBagReport:
        return cls(
            dag_ids=tuple(data["dag_ids"]),
            import_errors=dict(data["import_errors"]),
            warnings=tuple(data["warnings"]),
            parse_seconds=dict(data["parse_seconds"]),
        )


@dataclass(frozen=True)
class MetadataHit:
    """Where a searched string was found: ``table.column`` and rowid, or log file and line."""

    needle: str
    location: str
    row: int
