"""The demo's orchestration part: a backdated history, then the DAGs in real Airflow.

The history is made of real backups (real dumps, real encryption, real objects), taken
with the clock set back one day at a time, so that archive and retention have something
true to act on when the DAGs run.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli.output import print_table
from retention_pipeline.domain.schedule import next_fire
from retention_pipeline.local_airflow import AirflowEnv, airflow_home
from retention_pipeline.services.policies import current_policy

ROOT = Path(__file__).resolve().parents[1]


def seed_history(home: Path, now: datetime) -> dict[str, int]:
    """Daily backups for the automated client (45 days back), a few on-demand ones."""
    installation = bootstrap.load_installation(home)
    seeded: dict[str, int] = {}
    for client, days, hour in (
        ("atelier-dupont", range(45, 0, -1), 2),
        ("cabinet-martin", (20, 9, 3), 14),
    ):
        for back in days:
            at = (now - timedelta(days=back)).replace(hour=hour, minute=0, second=0, microsecond=0)
            service = replace(installation.backup_service(), clock=lambda at=at: at)
            slot = at if client == "atelier-dupont" else None
            service.backup(client, scheduled_for=slot, requested_by="history-seed")
            seeded[client] = seeded.get(client, 0) + 1
    return seeded


def run_dags(home: Path, now: datetime) -> tuple[list[str], dict[str, Any]]:
    """Run the four DAGs once in real Airflow; returns printable lines and the report."""
    lines: list[str] = []
    env = {
        "RETENTION_HOME": str(home),
        **{k: v for k, v in os.environ.items() if k.startswith("DEMO_")},
    }
    tick = now.replace(minute=0, second=0, microsecond=0)
    with airflow_home(
        home / "airflow", dags_folder=ROOT / "dags", pools={"crm_dumps": 2}
    ) as airflow:
        report = airflow.check_dags()
        loaded = ", ".join(sorted(report.dag_ids))
        lines.append(f"DAGs loaded: {loaded}; import errors: {len(report.import_errors)}")
        runs = [
            ("backup_crm_databases", None, tick),
            (
                "backup_on_demand",
                {"client": "cabinet-martin", "requested_by": "support-42", "reason": "TICKET-2031"},
                None,
            ),
            (
                "backup_on_demand",
                {
                    "client": "boulangerie-petit",
                    "requested_by": "support-42",
                    "reason": "TICKET-2032",
                },
                None,
            ),
            ("archive_backups", None, tick),
            ("enforce_retention", None, None),
        ]
        retention: dict[str, Any] = {}
        for dag_id, conf, logical in runs:
            if dag_id == "enforce_retention":
                logical = datetime.now(UTC)  # as of now: every backup above is in the past
            run = airflow.run_dag(dag_id, conf=conf, logical_date=logical, config=env)
            tasks = ", ".join(
                f"{t.task_id}[{t.rendered_map_index or t.map_index}]={t.state}"
                if t.map_index >= 0
                else f"{t.task_id}={t.state}"
                for t in run.tasks
            )
            who = f" ({conf['client']})" if conf else ""
            note = ""
            if run.state == "failed" and "no active backup option" in run.log_text():
                note = "  (refused: the client's backup option is off; in the evidence log)"
            lines.append(f"{dag_id}{who}: {run.state}  {tasks}{note}")
            if dag_id == "enforce_retention":
                retention = _latest_report(home)
        _check_state(airflow, lines)
    return lines, retention


def _check_state(airflow: AirflowEnv, lines: list[str]) -> None:
    """Nothing personal may be in Airflow: say how many canary hits there are (zero)."""
    hits = airflow.search_metadata_db(["Atelier Dupont SARL", "contact0@atelier-dupont.example"])
    lines.append(f"personal data found in Airflow's metadata and logs: {len(hits)}")


def _latest_report(home: Path) -> dict[str, Any]:
    reports = sorted((home / "reports").glob("retention-*.json"))
    real = [r for r in reports if "dry-run" not in r.name]
    return json.loads(real[-1].read_text()) if real else {"items": []}


def client_table(home: Path, now: datetime, retention: dict[str, Any]) -> None:
    """Per client: mode, recovery points, archive copies, expired this run, next due."""
    catalog = bootstrap.load_installation(home).catalog
    rows = []
    expired_lines = []
    for client in catalog.list_clients():
        cid = client.client_id
        policy = current_policy(catalog, cid)
        mode = policy.backup.mode if policy else "off"
        points = catalog.list_recovery_points(cid, statuses=["complete"])
        copies = [c for c in catalog.list_archive_copies(cid) if c.status == "present"]
        expired = [
            i for i in retention.get("items", []) if i["client"] == cid and i["action"] == "expire"
        ]
        if policy and policy.backup.mode == "automated" and policy.backup.schedule:
            due = next_fire(policy.backup.schedule, now).strftime("%Y-%m-%d %H:%M")
        else:
            due = "on request" if mode == "semi_manual" else "-"
        rows.append([cid, mode, len(points), len(copies), len(expired), due])
        examples = _one_per_reason(expired)
        expired_lines += [
            f"  {cid} {i['id']} ({i['created_at'][:10]}): {i['reason']}" for i in examples
        ]
        if len(expired) > len(examples):
            more = len(expired) - len(examples)
            expired_lines.append(f"  {cid}: ... and {more} more (see the report)")
    print_table(
        ["CLIENT", "MODE", "RECOVERY POINTS", "ARCHIVE COPIES", "EXPIRED THIS RUN", "NEXT DUE"],
        rows,
    )
    if expired_lines:
        print("expired this run, with reasons:")
        print("\n".join(expired_lines))


def _one_per_reason(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One example item per kind of reason (the text before its first space)."""
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(item["reason"].split(" ")[0], item)
    return list(seen.values())


def utc_now() -> datetime:
    """The demo's 'now' (the wall clock, UTC)."""
    return datetime.now(UTC)
