"""Real Airflow 3.3 on one machine, for the embedded default, the demo and the tests.

The embedded default runs DAGs the way ``dag.test()`` does: a real DagBag, real task
instances, XCom and a SQLite metadata database, with no scheduler or executor process.
Airflow is imported only in a worker process (``worker``), because it configures itself
and its logging from its home when first imported; ``env.airflow_home`` starts one worker
per home and sends it runs. Production runs the same DAG files under a scheduler with
the CeleryExecutor (``docker-compose.yml``).
"""

from retention_pipeline.local_airflow.env import AirflowEnv, DagRunRefusedError, airflow_home
from retention_pipeline.local_airflow.results import DagBagReport, DagRunResult, MetadataHit

__all__ = [
    "AirflowEnv",
    "DagBagReport",
    "DagRunRefusedError",
    "DagRunResult",
    "MetadataHit",
    "airflow_home",
]
