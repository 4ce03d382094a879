"""The calls the auditors' Airflow tasks make: integrity slices, restore drills, controls.

An entry point like ``tasks`` (split from it to keep each file small): each function
builds the installation from ``RETENTION_HOME`` when the task runs, and returns ids and
counts only. Failures raise errors that name recovery points, clients and controls by
id, so the task fails and the DAG's failure callback alerts the operators.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from retention_pipeline.bootstrap import Installation, load_installation
from retention_pipeline.domain.controls import summary
from retention_pipeline.errors import NotFoundError, RefusedError, RetentionError
from retention_pipeline.ports.catalog import IntegrityCheckKind, NewIntegrityCheck
from retention_pipeline.services.client_keys import SYSTEM_ACTOR, hoster_excluded
from retention_pipeline.services.integrity import check_id, record_verification
from retention_pipeline.services.policies import current_policy
from retention_pipeline.tasks import MAX_BATCHES, batches, utc_instant


class VerificationFailedError(RetentionError):
    """A recovery point failed its read-back check (it is recorded as ``failed``)."""


class NonCompliantError(RetentionError):
    """The audit found controls that are not met; the report names them."""


def integrity_slice(now: datetime, days: int, *, home: str | None = None) -> list[list[str]]:
    """Today's share of the rolling verification, in batches of recovery point ids.

    Like ``restic check --read-data-subset=n/N``: each complete point falls on one day of
    an N-day cycle (a hash of its id, so the slice is stable and needs no state), hence
    every point is read once per cycle at a steady daily cost. Points never verified,
    whose last verification is older than N days (a new point, a changed N) or failed
    (checked again each day until it passes or is removed) join today.
    Points of clients who keep ``hoster_can_decrypt: false`` are left out, and so are
    points taken while a client kept it (encrypted to the client's recipients only):
    only the client can read them.
    """
    now = utc_instant(now)
    if days < 1:
        raise ValueError("days must be at least 1")
    installation = load_installation(home)
    catalog = installation.catalog
    last, failing = _last_checks(installation, "verify")
    horizon = now - timedelta(days=days)
    today = now.date().toordinal() % days
    readable: dict[str, bool] = {}
    hosters: dict[str, str | None] = {}  # one key lookup per client, not per point
    chosen: list[str] = []
    for rp in catalog.list_recovery_points(statuses=["complete"]):
        if rp.client_id not in readable:
            policy = current_policy(catalog, rp.client_id)
            readable[rp.client_id] = policy is None or policy.protection.hoster_can_decrypt
            hosters[rp.client_id] = installation.keyring.hoster_fingerprint(rp.client_id)
        if not readable[rp.client_id] or hoster_excluded(rp, hosters[rp.client_id]):
            continue
        checked = last.get(rp.id)
        overdue = checked is None or checked < horizon or rp.id in failing
        if overdue or cycle_day(rp.id, days) == today:
            chosen.append(rp.id)
    return batches(chosen)


def cycle_day(recovery_point_id: str, days: int) -> int:
    """The day of the N-day cycle on which a point is verified (stable across runs)."""
    digest = hashlib.sha256(recovery_point_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % days


def verify_batch(
    rp_ids: Sequence[str], now: datetime, *, home: str | None = None
) -> dict[str, Any]:
    """Read back each point (fetch, SHA-256, decrypt, checksums) and record the check.

    A point that fails is recorded as ``failed`` with the error's class name and does not
    stop the others; the task then fails naming the failed points, so the DAG's alert
    fires. A rerun of the same run (same ``now``) finds its checks recorded and reuses them.
    A point that retention deleted since the slice was listed is counted as ``gone``.
    """
    now = utc_instant(now)
    installation = load_installation(home)
    service = installation.restore_service()
    recorded = {c.id: c.result for c in installation.catalog.list_integrity_checks()}
    passed, gone, failed = 0, 0, []
    for rp_id in rp_ids:
        earlier = recorded.get(check_id("verify", rp_id, now))
        if earlier is not None:
            passed += earlier == "passed"
            if earlier == "failed":
                failed.append(f"{rp_id} (recorded failed)")
            continue
        try:
            report = service.verify(rp_id)
        except RetentionError as error:
            if _record_failure(installation, rp_id, "verify", type(error).__name__, now):
                failed.append(f"{rp_id} ({type(error).__name__})")
            else:
                gone += 1
            continue
        record_verification(installation.catalog, report, "verify", now)
        passed += report.ok
        if not report.ok:
            failed.append(f"{rp_id} (checksum mismatch)")
    if failed:
        raise VerificationFailedError(
            f"{len(failed)} of {len(rp_ids)} recovery points failed verification: "
            f"{', '.join(failed)}; each is recorded as failed (retention-pipeline audit "
            "controls shows C7); restore from another recovery point and investigate the store"
        )
    return {"verified": passed, "gone": gone}


def drill_clients(now: datetime, days: int, *, home: str | None = None) -> list[str]:
    """Clients due for a restore drill: none passed within ``days``, or the last one failed.

    Only clients with a database source, a hoster key and a complete recovery point; the
    most overdue first, at most ``MAX_BATCHES`` a day (the rest come the following days).
    """
    now = utc_instant(now)
    installation = load_installation(home)
    catalog = installation.catalog
    checks = [c for c in catalog.list_integrity_checks() if c.kind == "restore_drill"]
    due: list[tuple[datetime, str]] = []
    for client in catalog.list_clients():
        policy = current_policy(catalog, client.client_id)
        if policy is None or policy.source.database is None:
            continue
        if not policy.protection.hoster_can_decrypt:
            continue
        if not catalog.list_recovery_points(client.client_id, statuses=["complete"]):
            continue
        drills = [c for c in checks if c.client_id == client.client_id and c.checked_at <= now]
        last_passed = max((c.checked_at for c in drills if c.result == "passed"), default=None)
        if drills and drills[-1].result == "failed":
            last_passed = None
        if last_passed is None or last_passed < now - timedelta(days=days):
            due.append((last_passed or datetime.min.replace(tzinfo=UTC), client.client_id))
    return [client_id for _, client_id in sorted(due)[:MAX_BATCHES]]


def restore_drill(client_id: str, now: datetime, *, home: str | None = None) -> dict[str, Any]:
    """Restore the client's newest complete point into a scratch database and record it.

    The scratch database has the source's engine (a SQLite file in a temporary folder, or
    a new database on the source's PostgreSQL/MariaDB server) and is dropped whatever the
    outcome. The restore itself compares every table's row count and checksum with the
    manifest; a mismatch or an error is recorded as a failed drill and fails the task.
    """
    now = utc_instant(now)
    from retention_pipeline.adapters.dumpers.scratch import scratch_database

    installation = load_installation(home)
    catalog = installation.catalog
    policy = current_policy(catalog, client_id)
    if policy is None or policy.source.database is None:
        raise RefusedError(
            f"client {client_id!r} has no database source in its policy; nothing to drill"
        )
    points = catalog.list_recovery_points(client_id, statuses=["complete"])
    if not points:
        raise RefusedError(f"client {client_id!r} has no complete recovery point to drill")
    rp = max(points, key=lambda p: p.created_at)
    done = check_id("restore_drill", rp.id, now)
    earlier = [c for c in catalog.list_integrity_checks(client_id) if c.id == done]
    if earlier and earlier[0].result == "passed":  # a rerun of the same run
        return {
            "client": client_id,
            "recovery_point": rp.id,
            "tables": earlier[0].details["tables"],
        }
    if earlier:
        raise VerificationFailedError(
            f"restore drill of client {client_id!r} from recovery point {rp.id} is recorded "
            "as failed for this run; it is drilled again in the next run"
        )
    source_url = installation.connection_url(policy.source.database.connection)
    try:
        with scratch_database(source_url) as target_url:
            report = installation.restore_service().restore(rp.id, target_url)
    except RetentionError as error:
        _record_failure(installation, rp.id, "restore_drill", type(error).__name__, now)
        raise
    record_verification(catalog, report, "restore_drill", now, problems=len(report.problems))
    if not report.ok:
        raise VerificationFailedError(
            f"restore drill of client {client_id!r} from recovery point {rp.id}: "
            f"{len(report.problems)} tables differ from the manifest after loading; "
            "the drill is recorded as failed; verify the point and the restore path"
        )
    return {"client": client_id, "recovery_point": rp.id, "tables": report.tables}


def audit_compliance(now: datetime, *, home: str | None = None) -> dict[str, Any]:
    """Evaluate every control and write the verdicts as JSON under the reports folder.

    The JSON (ids, dates and counts only) is the machine record of the day; the HTML
    report for people is written by ``retention-pipeline audit report``. Any
    non-compliant control fails the task, naming each (client, control) pair, so the
    DAG's failure alert reaches the operators.
    """
    now = utc_instant(now)
    from retention_pipeline.services.audit import audit

    installation = load_installation(home)
    results = audit(installation, now)
    counts = summary(results)
    folder = installation.reports_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"compliance-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.json"
    document = {
        "generated_at": now.astimezone(UTC).isoformat(),
        "summary": counts,
        "results": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    failing = [f"{r.client_id}/{r.control_id}" for r in results if r.verdict == "non_compliant"]
    if failing:
        raise NonCompliantError(
            f"{len(failing)} controls are not met (client/control): {', '.join(failing)}; "
            f"the evidence of each is in {path}"
        )
    return {"report": str(path), **{str(k): v for k, v in counts.items()}}


def checkpoint_evidence(now: datetime, *, home: str | None = None) -> dict[str, Any]:
    """Sign the evidence log's checkpoint into the witness store (daily, before the audit).

    Returns the witness store's name and the size signed. An installation without a
    witness gets ``{"witness": None}`` (nothing to write; ``log verify`` says a cut is
    unseen). A log that fails verification is not signed: the task fails, naming the
    last trusted entry, and C9 of the audit that follows is non-compliant.
    """
    now = utc_instant(now)
    witness = load_installation(home).evidence_witness()
    if witness.store is None:
        return {"witness": None, "size": None, "written": False}
    written = witness.write(now)
    return {"witness": written.witness, "size": written.size, "written": written.written}


def _last_checks(
    installation: Installation, kind: IntegrityCheckKind
) -> tuple[dict[str, datetime], set[str]]:
    """When each recovery point last had a check of ``kind``, and those whose last failed."""
    last: dict[str, datetime] = {}
    failing: set[str] = set()
    for check in installation.catalog.list_integrity_checks():  # oldest first
        if check.kind == kind:
            last[check.recovery_point_id] = check.checked_at
            if check.result == "failed":
                failing.add(check.recovery_point_id)
            else:
                failing.discard(check.recovery_point_id)
    return last, failing


def _record_failure(
    installation: Installation, rp_id: str, kind: IntegrityCheckKind, error: str, now: datetime
) -> bool:
    """Record a check that could not read the point: ``failed``, with the error's class name.

    ``record_verification`` needs a read report, which a failed read never produced; the
    class name (``RecoveryPointCorruptError``) says what failed without any data in it.
    Returns False, recording nothing, when the point is no longer complete (retention or
    an erasure removed it meanwhile): that is not a failed read.
    """
    catalog = installation.catalog
    try:
        rp = catalog.get_recovery_point(rp_id)
    except NotFoundError:
        return False
    if rp.status != "complete":
        return False
    details = {"tables": 0, "rows": 0, "documents": 0, "problems": 1, "error": error}
    check = catalog.add_integrity_check(
        NewIntegrityCheck(
            id=check_id(kind, rp_id, now),
            client_id=rp.client_id,
            recovery_point_id=rp_id,
            kind=kind,
            result="failed",
            checked_at=now,
            details=details,
        )
    )
    catalog.append_evidence(
        SYSTEM_ACTOR,
        "integrity.checked",
        {"client": rp.client_id, "recovery_point": rp_id, "check": check.id},
        {"kind": kind, "result": "failed", **details},
        now,
    )
    return True
