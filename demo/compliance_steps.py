"""The demo's order-form dates and its compliance report.

The order forms are recorded as signed two months before the demo's backdated history,
so that every backup of the history ran under a policy version in force at the time
(which is what controls C4 and C10 check). At the end, one deliberate violation is
planted, a backup older than its order form's ``max_age`` left in place after
retention ran, so that the report has something to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from retention_pipeline import bootstrap
from retention_pipeline.cli.policy_cmd import apply_and_report
from retention_pipeline.services import policies


def apply_as_of(home: Path, when: datetime) -> int:
    """``policy apply`` as an operator did it on ``when`` (the order forms' date)."""
    print(f"$ retention-pipeline policy apply --actor demo-operator   (as of {when:%Y-%m-%d})")
    installation = bootstrap.load_installation(home)
    folder = installation.policies_dir
    loaded = policies.read_policies(folder, installation.settings, policies_dir=folder)
    apply_and_report(installation, loaded, actor="demo-operator", now=when)
    return 0


def plant_violation(home: Path, now: datetime) -> str:
    """A backup dated 40 days ago, left in place: over the 35-day ``max_age`` (C3)."""
    installation = bootstrap.load_installation(home)
    at = now - timedelta(days=40)
    service = replace(installation.backup_service(), clock=lambda: at)
    return service.backup("atelier-dupont", requested_by="old-tape-import").recovery_point_id


def audit_step(home: Path, now: datetime, run: Callable[..., int]) -> int:
    """Plant the violation, then write the compliance report and print its counts."""
    rp = plant_violation(home, now)
    print(f"  deliberate violation: recovery point {rp} of atelier-dupont, 40 days old,")
    print("  kept past its order form's max_age of 35 days (C3) and never verified (C7)")
    code = run("audit", "controls", "--client", "atelier-dupont", "--home", str(home))
    return code or run("audit", "report", "--home", str(home))
