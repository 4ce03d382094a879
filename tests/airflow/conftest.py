"""One Airflow home for the harness tests, running the throwaway DAGs of ``dags/`` here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retention_pipeline.local_airflow import AirflowEnv, airflow_home

SAMPLE_DAGS = Path(__file__).parent / "dags"
# Named in tests/airflow/dags/sample_mapped.py; not imported from there, because importing a
# DAG file would import Airflow into the pytest process (see retention_pipeline.local_airflow.py).
SAMPLE_POOL = "sample_backups"


@pytest.fixture(scope="session")
def sample_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowEnv]:
    """A session-wide Airflow home whose dags folder holds the sample DAGs, pool created."""
    with airflow_home(
        tmp_path_factory.mktemp("airflow"), dags_folder=SAMPLE_DAGS, pools={SAMPLE_POOL: 4}
    ) as env:
        yield env
