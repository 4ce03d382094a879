"""Retention on real stores: what the plan expires is deleted everywhere, with reasons."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from retention_pipeline import bootstrap
from tests.lifecycle.conftest import BackupAt, day


def stored_points(home: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (home / "stores" / "backups").rglob("*.age")}


def test_dry_run_names_exactly_what_the_real_run_deletes_and_a_rerun_deletes_nothing(
    home: Path, backup_at: BackupAt
) -> None:
    ids = [backup_at(day(n)).recovery_point_id for n in range(0, 60, 2)]
    installation = bootstrap.load_installation(home)
    service = installation.retention_service()
    now = day(60)

    dry = service.apply(now, dry_run=True)
    assert dry.deleted == [] and stored_points(home) == set(ids)
    would = {i.id for i in dry.expired}

    real = service.apply(now)
    assert set(real.deleted) == would
    assert stored_points(home) == set(ids) - would
    for rp_id in would:
        assert installation.catalog.get_recovery_point(rp_id).status == "deleted"
    kept = [i for i in real.items if i.action == "keep"]
    assert kept and all(i.reason for i in kept)
    # max_age 35d: nothing older survives; min_age 2d: nothing younger goes.
    assert all((now - i.created_at).days < 35 for i in kept)
    assert all((now - i.created_at).days >= 2 for i in real.expired)

    again = service.apply(now)
    assert again.deleted == []


def test_the_report_has_one_row_per_item_with_its_reason(home: Path, backup_at: BackupAt) -> None:
    for n in range(0, 50, 5):
        backup_at(day(n))
    run = bootstrap.load_installation(home).retention_service().apply(day(50))
    json_path, csv_path = (Path(p) for p in run.report_paths)
    rows = json.loads(json_path.read_text())["items"]
    assert len(rows) == 10
    assert {r["action"] for r in rows} == {"keep", "expire"}
    expired = [r for r in rows if r["action"] == "expire"]
    assert all("max_age" in r["reason"] for r in expired)
    with csv_path.open() as handle:
        assert len(list(csv.DictReader(handle))) == 10


def test_a_legal_hold_keeps_everything(home: Path, backup_at: BackupAt) -> None:
    policy = home / "policies" / "acme-sas.yaml"
    policy.write_text(policy.read_text() + "legal_hold: {active: true, reason: litigation 42}\n")
    from retention_pipeline.cli.main import main

    assert main(["policy", "apply", "--home", str(home)]) == 0
    for n in range(0, 60, 10):
        backup_at(day(n))
    run = bootstrap.load_installation(home).retention_service().apply(day(400))
    assert run.deleted == []
    assert all("hold" in i.reason for i in run.items)
    assert all("litigation" not in i.reason for i in run.items)
