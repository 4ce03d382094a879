"""Even a crash (500) of the plugin app goes out with the security headers.

Starlette answers an unhandled exception from its outermost middleware, outside any
``add_middleware`` one; the headers must be set outside that. A crash cannot be asked of
the real API server, so the app runs in-process under Starlette's test client, in a
process of its own (Airflow is never imported into the pytest process: it reads
``AIRFLOW_HOME`` once), with a bug injected where it reads the installation. The login is
tested on the real server (``test_plugin.py``) and is stood in for here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json
from fastapi.testclient import TestClient
from airflow.api_fastapi.core_api.security import get_user
from retention_pipeline import airflow_plugin

def crash(_home):
    raise RuntimeError("a bug nobody foresaw")

airflow_plugin.bootstrap.load_installation = crash
airflow_plugin.app.dependency_overrides[get_user] = lambda: None
client = TestClient(airflow_plugin.app, raise_server_exceptions=False)
response = client.get("/api/summary")
print(json.dumps({"status": response.status_code, "headers": dict(response.headers)}))
"""


def test_a_crash_still_says_no_store_nosniff_and_a_content_security_policy(
    tmp_path: Path,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["status"] == 500
    headers = answer["headers"]
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
