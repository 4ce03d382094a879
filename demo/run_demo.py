"""``make demo``: the main job on the embedded default, narrated step by step.

It builds a fresh demo home (git-ignored) with three synthetic clients whose order forms
differ — automated backups with archives, semi-manual backups without archives, and
everything off — then runs the same commands an operator would, through the real CLI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

from airflow_steps import client_table, run_dags, seed_history, utc_now
from compliance_steps import apply_as_of, audit_step
from erasure_steps import certificate_checks

from retention_pipeline.cli.main import main as cli

DEMO_DIR = Path(__file__).resolve().parent
CLIENTS = {
    "atelier-dupont": "DEMO_ATELIER_CRM_URL",
    "cabinet-martin": "DEMO_CABINET_CRM_URL",
    "boulangerie-petit": "DEMO_BOULANGERIE_CRM_URL",
}


def step(title: str) -> None:
    """Print a heading so the demo reads as a story."""
    print(f"\n=== {title}")


def run(*args: str) -> int:
    """Run one CLI command as an operator would, echoing it first."""
    print(f"$ retention-pipeline {' '.join(args)}")
    sys.stdout.flush()
    return cli(list(args))


def make_sources(home: Path) -> dict[str, str]:
    """Small synthetic CRM databases (SQLite), one per client, and their URLs."""
    urls: dict[str, str] = {}
    for client, env in CLIENTS.items():
        folder = home / "sources" / client
        (folder / "documents").mkdir(parents=True, exist_ok=True)
        db = folder / "crm.db"
        with sqlite3.connect(db) as conn:
            conn.execute(
                "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE)"
            )
            conn.executemany(
                "INSERT INTO contacts (name, email) VALUES (?, ?)",
                [(f"Contact {i}", f"contact{i}@{client}.example") for i in range(25)],
            )
        (folder / "documents" / "welcome.txt").write_text("synthetic document\n")
        urls[env] = f"sqlite:///{db}"
    return urls


def main(argv: list[str] | None = None) -> int:
    """Build the demo home and walk through the foundation's commands."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", default=".demo", help="demo home (recreated each run)")
    args = parser.parse_args(argv)
    home = Path(args.home).resolve()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)

    step("1. An installation: configuration, stores, source connections")
    shutil.copy(DEMO_DIR / "retention.yaml", home / "retention.yaml")
    for sub in ("policies", "reports"):
        (home / sub).mkdir()
    (home / "keys").mkdir(mode=0o700)
    os.environ.update(make_sources(home))
    checks = [run("config", "check", "--home", str(home))]

    step("2. Three order forms, one policy file per client")
    for policy in sorted((DEMO_DIR / "policies").glob("*.yaml")):
        shutil.copy(policy, home / "policies" / policy.name)
        print(f"  policies/{policy.name}")
    checks.append(run("policy", "validate", "--home", str(home)))

    step("3. Apply: the plan, then one recorded policy version per client")
    checks.append(apply_as_of(home, utc_now() - timedelta(days=60)))

    step("4. The client amends its order form: a field-by-field plan")
    amended = home / "policies" / "cabinet-martin.yaml"
    amended.write_text(
        amended.read_text().replace(
            "max_age: 90d, keep: {last: 5}", "max_age: 60d, keep: {last: 8}"
        )
    )
    checks.append(run("policy", "apply", "--home", str(home), "--actor", "demo-operator"))

    step("5. Catalog state")
    checks.append(run("clients", "--home", str(home)))
    checks.append(run("policy", "history", "cabinet-martin", "--home", str(home)))

    step("6. A broken order form is refused with file, line and field")
    broken = home / "broken"
    broken.mkdir()
    (broken / "bad-client.yaml").write_text(
        "client: bad-client\nbackup:\n  mode: automated\n  schedule: '0 2 * *'\n"
        "  storage: backups-local\n  retension: {max_age: 35 days}\n"
    )
    refused = run("policy", "validate", str(broken), "--home", str(home))
    print(f"(exit code {refused}: nothing recorded)")

    now = utc_now()
    step("7. A backdated history of real encrypted backups")
    for client, count in seed_history(home, now).items():
        print(f"  {client}: {count} recovery points, dated in the past")

    step("8. The DAGs, run by real Airflow 3.3 (embedded: SQLite metadata, dag.test)")
    lines, retention = run_dags(home, now)
    print("\n".join(f"  {line}" for line in lines))

    step("9. Per client: what is stored, what expired, what is next")
    client_table(home, now, retention)
    checks.append(run("keys", "list", "--home", str(home)))

    step("10. Verify a recovery point, then restore it into an empty database")
    newest = _points(home, "atelier-dupont")[-1]
    checks.append(run("verify", newest, "--home", str(home)))
    restored = home / "restored" / "atelier-dupont.db"
    restored.parent.mkdir()
    checks.append(
        run(
            "restore",
            newest,
            "--to",
            f"sqlite:///{restored}",
            "--documents",
            str(home / "restored" / "documents"),
            "--home",
            str(home),
        )
    )

    step("11. Certified erasure of a client, verified by the client on its own")
    erased = _points(home, "cabinet-martin")
    who = ["--requested-by", "ops-alice", "--approved-by", "dpo-bob", "--request-ref", "REQ-2031"]
    erase = ["erase", "cabinet-martin", "--trigger", "client_request", *who]
    checks.append(run(*erase, "--dry-run", "--home", str(home)))
    checks.append(run(*erase, "--home", str(home)))
    checks.append(certificate_checks(home, run))
    gone = run(
        "restore",
        erased[-1],
        "--to",
        f"sqlite:///{home / 'restored' / 'gone.db'}",
        "--home",
        str(home),
    )
    print(f"(exit code {gone}: the erased client's backups can no longer be restored)")
    checks.append(0 if gone != 0 else 1)
    checks.append(run("keys", "list", "--home", str(home)))

    step("12. The auditors' view: compliance controls and the report")
    checks.append(audit_step(home, utc_now(), run))

    step("13. The evidence log is intact")
    checks.append(run("log", "verify", "--home", str(home)))

    failed = [c for c in checks if c != 0]
    print(f"\ndemo home: {home}")
    return 1 if failed or refused != 2 else 0


def _points(home: Path, client: str) -> list[str]:
    """Recovery point ids of a client, newest last (read through the CLI's JSON)."""
    import contextlib
    import io
    import json

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        cli(["points", client, "--json", "--home", str(home)])
    return [p["id"] for p in json.loads(buffer.getvalue()) if p["status"] == "complete"]


if __name__ == "__main__":
    sys.exit(main())
