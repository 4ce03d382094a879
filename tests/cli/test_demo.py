"""``make demo`` runs the foundation end to end on the embedded default."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_shows_plan_catalog_and_refusal(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "run_demo.py"), "--home", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "plan: 3 added" in out
    assert "backup.retention.max_age: 90d -> 60d" in out
    assert "boulangerie-petit  v1      off" in out
    assert "backup.retension: is not a known field; did you mean 'retention'?" in out
    assert "backup_crm_databases: success" in out
    assert "(refused: the client's backup option is off" in out
    assert "archive_backups: success" in out and "enforce_retention: success" in out
    assert "personal data found in Airflow's metadata and logs: 0" in out
    assert "max_age exceeded" in out
    assert "erasure of cabinet-martin completed" in out
    assert "verified: client cabinet-martin, status completed" in out
    assert "Signature Verified Successfully" in out  # the openssl recipe, as documented
    assert "is deleted; only complete recovery points can be read" in out
    assert "cabinet-martin  local    destroyed" in out
    assert "Cabinet Martin" not in out.split("=== 11.")[1]  # no personal data in the proof
    audit = out.split("=== 12.")[1]
    assert "atelier-dupont  C3       non_compliant" in audit  # the deliberate violation
    assert "atelier-dupont  C4       compliant" in audit  # history ran under its policy
    assert re.search(r"reports/audit-\d{8}T\d{6}Z\.html", audit)
    assert re.search(r"\d+ compliant, 2 non-compliant, \d+ not applicable", audit)
    assert out.count("verification: OK") == 2  # verify, then restore
    assert "evidence log intact" in out
