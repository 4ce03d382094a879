"""Run this project's DAGs in real Airflow 3.3 from tests and the demo.

``airflow_home(tmp_path)`` builds an isolated Airflow home (its own SQLite metadata DB,
log folder and dags folder) and starts one worker process (``local_airflow.worker``) that
imports Airflow there; ``AirflowEnv.run_dag`` then runs a DAG with ``dag.test()``: real
scheduling decisions, real task instances, real XCom rows, in the worker's process.

Why a worker process and not the pytest process: Airflow reads ``AIRFLOW_HOME`` and its
configuration when first imported and reconfigures logging, so an in-process harness would
pin one home per session and disturb every other test. Why one long-lived worker and not
one process per run: Airflow's import plus its in-process Execution API cost ~6 s once;
later runs cost well under a second.

The metadata DB is created once per session (``airflow db migrate`` into a template, ~3 s)
and copied for each home. ``search_metadata_db`` reads every column of every table and
every file under the log folder: the privacy canary's view of what an operator can read.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from retention_pipeline.local_airflow.results import DagBagReport, DagRunResult, MetadataHit

ROOT = Path(__file__).resolve().parents[3]
DAGS_FOLDER = ROOT / "dags"
STARTUP_TIMEOUT = 120.0
RUN_TIMEOUT = 300.0


class AirflowHarnessError(RuntimeError):
    """Airflow refused or failed a request; the message names the DAG and the log file."""


class DagRunRefusedError(AirflowHarnessError):
    """``dag.test()`` raised before or while creating the run (bad conf, unknown DAG)."""


def base_environment(home: Path, dags_folder: Path) -> dict[str, str]:
    """The variables that make an Airflow home self-contained (see docs/airflow.md)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def inherited_environment() -> dict[str, str]:
    """Our environment minus any Airflow setting a developer's shell may carry."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}


@functools.cache
def template_database() -> Path:
    """Migrate one empty metadata DB per session; every home starts from a copy of it."""
    folder = Path(tempfile.mkdtemp(prefix="airflow-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    home = folder / "home"
    home.mkdir()
    env = {**inherited_environment(), **base_environment(home, folder / "dags")}
    log = folder / "migrate.log"
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise AirflowHarnessError(f"airflow db migrate failed (exit {done.returncode}); see {log}")
    return home / "airflow.db"


@dataclass
class AirflowEnv:
    """One Airflow home and the worker that runs DAGs in it."""

    home: Path
    dags_folder: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    counter: Iterator[int] = field(default_factory=itertools.count)

    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    @property
    def log_folder(self) -> Path:
        return self.home / "logs"

    def run_dag(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | None = None,
        config: Mapping[str, str] | None = None,
    ) -> DagRunResult:
        """Run ``dag_id`` once with ``dag.test()``.

        ``config`` sets environment variables for this run only: ``AIRFLOW__SECTION__KEY``
        settings, or ``RETENTION_HOME`` for the services a product DAG calls.

        ``logical_date=None`` lets Airflow use "now", as a manual trigger does. A run whose
        tasks fail is returned (state ``failed``); a run Airflow refuses to create raises
        ``DagRunRefusedError``.
        """
        log_path = self.log_folder / "dag_test" / dag_id / f"run-{next(self.counter):03d}.log"
        reply = self.request(
            {
                "op": "run",
                "dag_id": dag_id,
                "conf": dict(conf or {}),
                "logical_date": None if logical_date is None else logical_date.isoformat(),
                "env": dict(config or {}),
                "log_path": str(log_path),
            },
            log_path,
        )
        return DagRunResult.from_json(reply, log_path)

    def check_dags(self) -> DagBagReport:
        """Parse the dags folder like the DAG processor: ids, import errors, pool warnings."""
        log_path = self.log_folder / "dag_test" / f"check-{next(self.counter):03d}.log"
        reply = self.request({"op": "check", "log_path": str(log_path)}, log_path)
        return DagBagReport.from_json(reply)

    def request(self, message: dict[str, Any], log_path: Path) -> Any:
        """Send one request to the worker and wait for its answer."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()
        reply = read_reply(self.process, RUN_TIMEOUT, log_path)
        if reply["ok"]:
            return reply["result"]
        what = message.get("dag_id", self.dags_folder)
        raise DagRunRefusedError(f"{what}: {reply['error']}: {reply['message']} (log: {log_path})")

    def search_metadata_db(self, needles: Iterable[str]) -> list[MetadataHit]:
        """Every place in the metadata DB or the log folder where one of ``needles`` occurs."""
        wanted = {form: needle for needle in needles if needle for form in spellings(needle)}
        return [*search_database(self.db_path, wanted), *search_logs(self.log_folder, wanted)]

    def close(self) -> None:
        """Ask the worker to stop; kill it if it does not."""
        if self.process.poll() is None:
            try:
                stdin = self.process.stdin
                assert stdin is not None
                stdin.write(json.dumps({"op": "quit"}) + "\n")
                stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def read_reply(process: subprocess.Popen[str], timeout: float, log_path: Path) -> Any:
    """One JSON line from the worker, or an error naming the log to read."""
    stdout: IO[str] | None = process.stdout
    assert stdout is not None
    ready, _, _ = select.select([stdout], [], [], timeout)
    line = stdout.readline() if ready else ""
    if not line:
        if process.poll() is None:
            process.kill()
        raise AirflowHarnessError(
            f"the Airflow worker did not answer within {timeout:.0f} s or died; see {log_path}"
        )
    return json.loads(line)


@contextmanager
def airflow_home(
    tmp_path: Path,
    dags_folder: Path = DAGS_FOLDER,
    pools: Mapping[str, int] | None = None,
    config: Mapping[str, str] | None = None,
) -> Iterator[AirflowEnv]:
    """An isolated Airflow home under ``tmp_path`` with a ready worker; stopped on exit.

    ``pools`` are created in the metadata DB (name -> slots); ``config`` adds
    ``AIRFLOW__SECTION__KEY`` variables for every run.
    """
    home = tmp_path / "airflow"
    (home / "logs").mkdir(parents=True)
    (home / "plugins").mkdir()
    shutil.copyfile(template_database(), home / "airflow.db")
    env = {**base_environment(home, dags_folder.resolve()), **(config or {})}
    env["RETENTION_TEST_AIRFLOW_POOLS"] = json.dumps(dict(pools or {}))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src")])
    worker_log = home / "logs" / "worker.log"
    with worker_log.open("ab") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "retention_pipeline.local_airflow.worker"],
            cwd=ROOT,
            env={**inherited_environment(), **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    airflow = AirflowEnv(home=home, dags_folder=dags_folder, env=env, process=process)
    try:
        ready = read_reply(process, STARTUP_TIMEOUT, worker_log)
        if not ready["ok"]:
            raise AirflowHarnessError(
                f"the Airflow worker failed to start: {ready['error']}; see {worker_log}"
            )
        yield airflow
    finally:
        airflow.close()


def spellings(needle: str) -> set[str]:
    """The forms a string takes once stored: as is, JSON-escaped (XCom, conf), repr'd (logs)."""
    return {needle, json.dumps(needle)[1:-1], repr(needle)[1:-1]}


def search_database(db_path: Path, needles: dict[str, str]) -> Iterator[MetadataHit]:
    """Scan every column of every table (text, JSON, and zlib-compressed blobs)."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            cursor = connection.execute(f'SELECT rowid, * FROM "{table}"')
            columns = [column[0] for column in cursor.description][1:]
            for rowid, *values in cursor:
                for column, value in zip(columns, values, strict=True):
                    text = as_text(value)
                    for form, needle in needles.items():
                        if form in text:
                            yield MetadataHit(needle, f"{table}.{column}", rowid)
    finally:
        connection.close()


def as_text(value: object) -> str:
    """A column value as searchable text; compressed serialized DAGs are inflated."""
    if isinstance(value, bytes):
        with suppress(zlib.error):
            value = zlib.decompress(value)
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def search_logs(log_folder: Path, needles: dict[str, str]) -> Iterator[MetadataHit]:
    """Scan every file under the log folder, line by line."""
    for path in sorted(log_folder.rglob("*")):
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                for form, needle in needles.items():
                    if form in line:
                        yield MetadataHit(needle, str(path), number)
