"""End to end: real backups, archive copies, verifications and a drill in a real home,
read back into a snapshot and judged by the controls (and by the CLI)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retention_pipeline import bootstrap
from retention_pipeline.cli import audit_cmd
from retention_pipeline.domain.controls import ControlResult
from retention_pipeline.services.audit import audit
from retention_pipeline.services.integrity import record_verification
from tests.lifecycle.conftest import BackupAt

CLIENT = "acme-sas"
# The policy was applied with the real clock: the history is dated after it.
BASE = (datetime.now(UTC) + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)


def day(n: int) -> datetime:
    return BASE + timedelta(days=n)


def verdicts(results: list[ControlResult], client: str = CLIENT) -> dict[str, str]:
    return {r.control_id: r.verdict for r in results if r.client_id == client}


@pytest.fixture
def history(home: Path, backup_at: BackupAt, tmp_path: Path) -> bootstrap.Installation:
    """Three daily backups, their archive copy, each verified, one restore drill."""
    for n in range(3):
        backup_at(day(n))
    installation = bootstrap.load_installation(home)
    replace(installation.archive_service(), clock=lambda: day(2)).archive_client(CLIENT)
    catalog, restore = installation.catalog, installation.restore_service()
    points = catalog.list_recovery_points(CLIENT, statuses=["complete"])
    for rp in points:
        record_verification(catalog, restore.verify(rp.id), "verify", day(2) + timedelta(hours=1))
    drill = restore.restore(points[-1].id, f"sqlite:///{tmp_path / 'scratch.db'}")
    record_verification(catalog, drill, "restore_drill", day(2) + timedelta(hours=2))
    return installation


def test_a_home_kept_to_its_order_form_is_compliant(history: bootstrap.Installation) -> None:
    found = verdicts(audit(history, day(2) + timedelta(hours=3)))
    assert found == {
        "C1": "compliant",
        "C2": "compliant",
        "C3": "compliant",
        "C4": "compliant",
        "C5": "compliant",
        "C6": "compliant",
        "C7": "compliant",
        "C8": "not_applicable",
        "C10": "not_applicable",  # both options on since the first version
    }
    assert verdicts(audit(history, day(2) + timedelta(hours=3)), "*") == {"C9": "compliant"}


def test_missed_backups_and_stale_verifications_show_up(history: bootstrap.Installation) -> None:
    found = verdicts(audit(history, day(12), verify_window_days=7))
    assert found["C2"] == "non_compliant"  # no backup for ten days
    assert found["C7"] == "non_compliant"  # last verified ten days ago, window 7


def test_a_verification_that_failed_is_recorded_and_fails_c7(
    history: bootstrap.Installation,
) -> None:
    catalog = history.catalog
    rp = catalog.list_recovery_points(CLIENT, statuses=["complete"])[0]
    report = replace(history.restore_service().verify(rp.id), problems=["table 1 checksum"])
    check = record_verification(catalog, report, "verify", day(2) + timedelta(hours=4))
    assert (check.result, check.details["problems"]) == ("failed", 1)
    found = [r for r in audit(history, day(2) + timedelta(hours=5)) if r.control_id == "C7"]
    assert found[0].verdict == "non_compliant"
    assert found[0].evidence["failed_ids"] == [rp.id]
    entry = list(catalog.evidence_entries())[-1]
    assert (entry.action, entry.details["result"]) == ("integrity.checked", "failed")


def run_cli(argv: list[str]) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home")
    parser = argparse.ArgumentParser(parents=[common])
    audit_cmd.register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_cli_prints_the_table_and_summary(
    history: bootstrap.Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    now = (day(2) + timedelta(hours=3)).isoformat()
    assert run_cli(["audit", "controls", "--home", str(history.home), "--now", now]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["CLIENT", "CONTROL", "VERDICT", "EVIDENCE"]
    assert out.rstrip().endswith("8 compliant, 0 non-compliant, 2 not applicable")
    assert "ACME" not in out


def test_cli_json_for_one_client(
    history: bootstrap.Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "controls", "--home", str(history.home), "--client", CLIENT, "--json"]
    assert run_cli([*argv, "--now", day(12).isoformat()]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["client"] for r in data["results"]} == {CLIENT, "*"}
    c2 = next(r for r in data["results"] if r["control"] == "C2")
    assert c2["verdict"] == "non_compliant" and c2["evidence"]["due_slot"]
    assert data["summary"]["non_compliant"] >= 1


def test_cli_names_an_unknown_client(history: bootstrap.Installation) -> None:
    from retention_pipeline.errors import NotFoundError

    with pytest.raises(NotFoundError, match="'nobody-here' is not in the catalog"):
        run_cli(["audit", "controls", "--home", str(history.home), "--client", "nobody-here"])
