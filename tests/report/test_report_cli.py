"""``audit report`` on a real home: real backups in a SQLite catalog, files written."""

from __future__ import annotations

import argparse
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retention_pipeline.cli import audit_cmd
from retention_pipeline.errors import NotFoundError
from tests.lifecycle.conftest import BackupAt

CLIENT = "acme-sas"
# The policy was applied with the real clock: the backups are dated after it.
BASE = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
NOW = BASE + timedelta(days=1, hours=3)


def run_cli(argv: list[str]) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home")
    parser = argparse.ArgumentParser(parents=[common])
    audit_cmd.register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture
def backed_up(home: Path, backup_at: BackupAt) -> Path:
    """The lifecycle home with two daily backups."""
    for n in range(2):
        backup_at(BASE + timedelta(days=n))
    return home


def test_default_html_goes_to_the_reports_folder(
    backed_up: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "report", "--home", str(backed_up), "--now", NOW.isoformat()]
    assert run_cli(argv) == 0
    path_line, summary = capsys.readouterr().out.strip().splitlines()
    path = Path(path_line)
    assert path == backed_up / "reports" / f"audit-{NOW:%Y%m%dT%H%M%SZ}.html"
    assert summary.endswith("not applicable") and "compliant" in summary
    html = path.read_text()
    assert html.count("<svg") == 4 and 'id="compliance-matrix"' in html
    assert "ACME SAS" not in html  # the order form's display name


def test_csv_for_one_client_to_a_chosen_path(backed_up: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "acme.csv"
    argv = ["audit", "report", "--home", str(backed_up), "--client", CLIENT]
    assert run_cli([*argv, "--format", "csv", "--out", str(out), "--now", NOW.isoformat()]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["client"] for r in rows} == {CLIENT, "*"}
    assert len(rows) == 10  # C1..C10, once each
    c2 = next(r for r in rows if r["control"] == "C2")
    assert c2["verdict"] == "compliant"
    assert json.loads(c2["evidence"])["last_slot"].startswith(
        f"{BASE + timedelta(days=1):%Y-%m-%d}"
    )


def test_json_report_and_an_unknown_client(backed_up: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    argv = ["audit", "report", "--home", str(backed_up), "--format", "json", "--out", str(out)]
    assert run_cli([*argv, "--now", NOW.isoformat()]) == 0
    data = json.loads(out.read_text())
    (facts,) = data["clients"]
    assert facts["backup_age_hours"] == 3.0  # the newest backup was taken at 02:00
    assert data["storage"][0]["location"] == "eu-west-3"
    with pytest.raises(NotFoundError, match="'nobody-here' is not in the catalog"):
        run_cli([*argv, "--client", "nobody-here"])
