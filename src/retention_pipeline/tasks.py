"""The calls Airflow tasks make: one function per task, ids in, ids and counts out.

This is an entry point, like ``cli``: it builds the installation (``bootstrap``) and
calls the services. DAG files stay wiring (DESIGN section 3): every task calls exactly
one function here.
Each builds the installation from ``RETENTION_HOME`` when the task *runs*, never when the
DAG file is parsed, and returns small JSON (opaque ids, counts, report paths) because
whatever a task returns is stored in Airflow's metadata database and shown in its UI.

Batching: Airflow refuses to map more than ``max_map_length`` (1024) items, so due
clients are grouped into at most ``MAX_BATCHES`` batches. Up to 1024 clients that is
one client per mapped task (the UI shows its id); above, a few clients per task.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from retention_pipeline.bootstrap import Installation, load_installation
from retention_pipeline.domain.schedule import previous_fire
from retention_pipeline.errors import RefusedError, RetentionError
from retention_pipeline.services.backup import erasure_under_way
from retention_pipeline.services.cleanup import cleanup_clients
from retention_pipeline.services.policies import current_policy

_log = logging.getLogger(__name__)

MAX_BATCHES = 1024


class BatchFailedError(RetentionError):
    """Some clients of a batch failed; the others are done (a retry reuses them)."""


def run_time(data_interval_end: datetime | None) -> datetime:
    """The time a task acts as of: its run's interval end (repeatable on rerun), else now.

    Using the interval end, not the wall clock, is what makes a retry or a rerun of the
    same run land on the same schedule slot and the same retention decisions.
    """
    if data_interval_end is None:
        return installation_now()
    return utc_instant(data_interval_end)


def utc_instant(moment: datetime) -> datetime:
    """``moment`` as a plain ``datetime`` in UTC.

    Airflow hands tasks pendulum ``DateTime`` objects; passed as is, the controls'
    schedule arithmetic refused one as naive (seen with ``audit_compliance``). A stdlib
    instant behaves the same everywhere, so every task below starts from one.
    """
    aware = moment.astimezone(UTC)
    return datetime(
        aware.year, aware.month, aware.day, aware.hour, aware.minute, aware.second,
        aware.microsecond, tzinfo=UTC,
    )  # fmt: skip


def batches(ids: Sequence[str], max_batches: int = MAX_BATCHES) -> list[list[str]]:
    """Split ids into at most ``max_batches`` batches of equal size, in order."""
    if not ids:
        return []
    size = max(1, math.ceil(len(ids) / max_batches))
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def batch_label(batch: Sequence[str]) -> str:
    """How a mapped task is named in the UI: the client id, or first id and count."""
    if len(batch) == 1:
        return batch[0]
    return f"{batch[0]} +{len(batch) - 1}"


def backup_slot(installation: Installation, client_id: str, now: datetime) -> datetime | None:
    """The schedule slot a backup taken ``now`` belongs to, or ``None`` if not automated."""
    policy = current_policy(installation.catalog, client_id)
    if policy is None or policy.backup.mode != "automated" or policy.backup.schedule is None:
        return None
    return previous_fire(policy.backup.schedule, now)


def due_backup_batches(now: datetime, *, home: str | None = None) -> list[list[str]]:
    """Automated clients whose schedule fired since their last complete recovery point."""
    installation = load_installation(home)
    due: list[str] = []
    for client in installation.catalog.list_clients():
        slot = backup_slot(installation, client.client_id, now)
        if slot is None or erasure_under_way(installation.catalog, client.client_id):
            continue
        points = installation.catalog.list_recovery_points(client.client_id, statuses=["complete"])
        last = max((p.scheduled_for or p.created_at for p in points), default=None)
        if last is None or last < slot:
            due.append(client.client_id)
    return batches(due)


def back_up_batch(batch: Sequence[str], now: datetime, *, home: str | None = None) -> list[str]:
    """Back up each client of the batch for its slot; return the recovery point ids.

    Idempotent: a retry or rerun with the same ``now`` finds each client's slot already
    done (or done and expired since) and returns the same recovery point. A client that
    no longer has an automated schedule when the batch runs (its policy changed since the
    batch was listed) is skipped: the scheduled run has no slot for it, and a backup
    without a slot would add a new point at every retry. A client that fails does not
    stop the others; the task fails at the end, naming the failed clients by id.
    """
    installation = load_installation(home)
    service = installation.backup_service()

    def back_up(client_id: str) -> list[str]:
        slot = backup_slot(installation, client_id, now)
        if slot is None:
            return []
        return [service.backup(client_id, scheduled_for=slot).recovery_point_id]

    return _each_client(
        batch, back_up, "see the evidence log and retry the task (done clients are reused)"
    )


def _each_client(
    batch: Sequence[str], act: Callable[[str], Iterable[str]], advice: str
) -> list[str]:
    """``act`` on each client, gathering the ids it returns; one that fails does not stop
    the others, and at the end ``BatchFailedError`` names every failed client by id."""
    done: list[str] = []
    failed: list[str] = []
    for client_id in batch:
        try:
            done.extend(act(client_id))
        except RetentionError as error:
            failed.append(f"{client_id} ({type(error).__name__})")
    if failed:
        raise BatchFailedError(
            f"{len(failed)} of {len(batch)} clients failed: {', '.join(failed)}; {advice}"
        )
    return done


def back_up_on_demand(
    client_id: str, requested_by: str, reason: str, *, home: str | None = None
) -> str:
    """A semi-manual backup at a client's request; refused when its option is off."""
    installation = load_installation(home)
    policy = current_policy(installation.catalog, client_id)
    if policy is not None and policy.backup_active:
        installation.catalog.append_evidence(
            requested_by,
            "backup.requested",
            {"client": client_id},
            {"reason": reason},
            installation_now(),
        )
    result = installation.backup_service().backup(client_id, requested_by=requested_by)
    return result.recovery_point_id


def archive_batches(*, home: str | None = None) -> list[list[str]]:
    """Clients whose archive option is on, in batches."""
    installation = load_installation(home)
    ids = []
    for client in installation.catalog.list_clients():
        policy = current_policy(installation.catalog, client.client_id)
        if policy is not None and policy.archive_active:
            ids.append(client.client_id)
    return batches(ids)


def archive_batch(batch: Sequence[str], *, home: str | None = None) -> list[str]:
    """Archive due recovery points of each client; return the new archive copy ids.

    A client that fails (a corrupt source, an unreachable archive store) does not stop the
    others; the task fails at the end, naming the failed clients by id.
    """
    service = load_installation(home).archive_service()
    return _each_client(
        batch,
        lambda client_id: service.archive_client(client_id).copied,
        "the others were archived: see the evidence log, fix the cause, then retry the task",
    )


def enforce_retention(now: datetime, *, dry_run: bool, home: str | None = None) -> dict[str, Any]:
    """Plan and (unless ``dry_run``) apply retention; return counts and report paths."""
    run = load_installation(home).retention_service().apply(now, dry_run=dry_run)
    return {
        "items": len(run.items),
        "expired": len(run.expired),
        "deleted": len(run.deleted),
        "dry_run": run.dry_run,
        "reports": list(run.report_paths),
    }


def clean_up_leftovers(now: datetime, *, home: str | None = None) -> dict[str, Any]:
    """Remove what interrupted backups left, for every client with a policy (default grace).

    Objects the catalog has no row for are only counted (``unknown_kept``): deleting them
    is an operator's decision (``cleanup --delete-unknown``), never a schedule's.

    A client whose store fails is skipped and named at the end (the task then fails, so
    the run's alert fires); the others are still cleaned. Counts and client ids only.
    """
    installation = load_installation(home)
    catalog = installation.catalog
    clients = [c.client_id for c in catalog.list_clients()]
    run = cleanup_clients(catalog, clients, installation.store, now)
    if run.failures:
        failed = [f"{c} ({type(e).__name__})" for c, e in run.failures.items()]
        raise RetentionError(
            f"cleanup failed for {', '.join(failed)}; the other clients were cleaned up: "
            "check those stores, then rerun the task"
        )
    reports = run.reports.values()
    unknown = {c: r.unknown_kept for c, r in run.reports.items() if r.unknown_kept}
    if unknown:
        _log.warning(
            "objects unknown to the catalog kept (check the catalog, then run "
            "`retention-pipeline cleanup --delete-unknown` if they are leftovers): %s",
            ", ".join(f"{c}: {n}" for c, n in sorted(unknown.items())),
        )
    return {
        "clients": len(run.reports),
        "aborted_uploads": sum(r.aborted_uploads for r in reports),
        "deleted_versions": sum(r.deleted_versions for r in reports),
        "abandoned": sum(len(r.abandoned_points) for r in reports),
        "unknown_kept": sum(r.unknown_kept for r in reports),
    }


def installation_now() -> datetime:
    """The wall clock, for evidence of requests (tasks otherwise use the logical time)."""
    from retention_pipeline.bootstrap import utc_now

    return utc_now()


SYSTEM_REQUESTER = "retention-pipeline"


def erasure_targets(
    params: dict[str, Any], now: datetime, *, home: str | None = None
) -> list[dict[str, Any]]:
    """Who to erase in this run: the client named in the run's Params, or the daily sweep.

    A manual run names one client with its trigger, requester and approver. A scheduled
    run (no client in Params) lists clients whose contract ended more than
    ``erasure.after_contract_end`` ago; the pipeline itself is their requester, so a
    policy with ``approval: required`` still waits for a person to approve.
    """
    if params.get("client"):
        return [
            {
                "client": params["client"],
                "trigger": params["trigger"],
                "requested_by": params["requested_by"],
                "approved_by": params.get("approved_by"),
                "request_ref": params.get("request_ref"),
                "dry_run": bool(params.get("dry_run")),
                "sweep": False,
            }
        ]
    due = load_installation(home).erasure_service().due_for_erasure(now)
    return [
        {
            "client": client_id,
            "trigger": "end_of_contract",
            "requested_by": SYSTEM_REQUESTER,
            "approved_by": None,
            "request_ref": None,
            "dry_run": False,
            "sweep": True,
        }
        for client_id in due
    ]


def erase_target(
    target: dict[str, Any], run_id: str | None, *, home: str | None = None
) -> dict[str, Any]:
    """Erase one client; returns ids and the certificate status only.

    A refusal (legal hold, missing second person) fails a manual run with its reason;
    in the daily sweep it is recorded (evidence log) and reported, so one held client
    does not block the others and the refusal shows again every day it lasts.
    """
    service = load_installation(home).erasure_service()
    try:
        outcome = service.erase(
            target["client"],
            trigger=target["trigger"],
            requested_by=target["requested_by"],
            approved_by=target["approved_by"],
            request_ref=target["request_ref"],
            dry_run=target["dry_run"],
            airflow_run_id=run_id,
        )
    except RefusedError as refusal:
        if not target["sweep"]:
            raise
        return {"client": target["client"], "status": "refused", "reason": type(refusal).__name__}
    return {
        "client": outcome.client_id,
        "status": outcome.status,
        "certificate": outcome.certificate_id,
        "request": outcome.request_id,
    }


def sweep_residual_copies(now: datetime, *, home: str | None = None) -> list[str]:
    """Delete locked copies whose lock ended; return the superseding certificate ids."""
    outcomes = load_installation(home).erasure_service().sweep_residuals(now)
    return [o.certificate_id for o in outcomes if o.certificate_id]


# -- verify_backups and audit_compliance (the auditors' issue, control C7) -----------------
