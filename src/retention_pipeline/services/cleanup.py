"""Find and remove what interrupted backups left behind; safe to run at any time.

A backup killed mid-way can leave: a ``pending`` catalog row, an unfinished multipart
upload (or a folder store's partial file), or a whole object whose catalog row never
became ``complete``. Cleanup removes those, and only those, from every store the
client's recovery points name and from its policy's backup store (a policy that moved
to another store must not strand an earlier attempt's leftovers):

* unfinished uploads under a client's prefix, once older than the grace period and
  not the upload of a ``pending`` attempt younger than it (the catalog's clock decides
  too: some S3 look-alikes, moto among them, report a made-up initiation time);
* versions under ``<client>/recovery-points/`` whose row is ``failed`` or ``deleted``,
  or whose ``pending`` row is older than the grace period (the row is then marked
  ``failed``: abandoned);
* versions of a ``complete`` recovery point other than the one recorded (an earlier
  attempt of a retried slot);
* what interrupted archive copies left in the archive stores (``archive_cleanup``):
  deleted where no lock holds it, listed with its lock's end date where one does.

Only keys of the client's exact shape are judged (``domain.object_keys.belongs_to``):
anything else under the prefix, such as another store's objects seen through a nested
root, is counted (``foreign_kept``) and never touched. Versions that no row knows are
counted and kept, unless the caller asks for them
(``delete_unknown``, the CLI's ``--delete-unknown``; never the daily task). A backup
writes its ``pending`` row before its first byte, so no crash of ours leaves one: an
unknown object means the catalog is a restored older copy, a new one, or the wrong one,
and deleting on its word would destroy the very backups it forgot.

The grace period (6 hours by default, longer than any backup) is what makes it safe to
run beside a backup in progress: a young pending attempt is never touched. A
``complete`` recovery point's recorded version is never deleted here: that is
retention's decision, with its reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from retention_pipeline.domain.object_keys import RECOVERY_POINTS, belongs_to, client_prefix
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.errors import RetentionError
from retention_pipeline.ports.catalog import Catalog, RecoveryPoint, TransitionError
from retention_pipeline.ports.store import ObjectStore, ObjectVersion
from retention_pipeline.services.archive_cleanup import ArchiveLeftovers, clean_archive_attempts
from retention_pipeline.services.client_keys import SYSTEM_ACTOR
from retention_pipeline.services.policies import current_policy

DEFAULT_GRACE = timedelta(hours=6)


@dataclass
class CleanupReport:
    """What one cleanup removed, per client (ids and counts only)."""

    aborted_uploads: int = 0
    deleted_versions: int = 0
    abandoned_points: list[str] = field(default_factory=list)
    unknown_objects: int = 0  # deleted: unknown to the catalog (``delete_unknown`` only)
    unknown_kept: int = 0  # unknown to the catalog and left in place
    foreign_kept: int = 0  # under the prefix but not of the client's shape: never touched
    archive: ArchiveLeftovers = field(default_factory=ArchiveLeftovers)


def cleanup_client(
    catalog: Catalog,
    policy: ClientPolicy,
    store_of: Callable[[str], ObjectStore],
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    delete_unknown: bool = False,
) -> CleanupReport:
    """Remove one client's leftovers from its backup store (see the module docstring)."""
    report = CleanupReport()
    cutoff = now - grace
    points = {rp.key: rp for rp in catalog.list_recovery_points(policy.client)}
    # every store the client's attempts used, not only the policy's current one
    stores = {rp.store for rp in points.values()}
    if policy.backup.storage is not None:
        stores.add(policy.backup.storage)
    running = {k for k, rp in points.items() if rp.status == "pending" and rp.created_at >= cutoff}
    for name in sorted(stores):
        report.aborted_uploads += _abort_stale_uploads(
            store_of(name), policy.client, cutoff, running
        )
    for rp in points.values():
        if rp.status == "pending" and rp.created_at < cutoff:
            try:  # only that attempt: a retry may have taken the slot over since the read
                catalog.fail_recovery_point(
                    rp.id, "abandoned: found by cleanup", now, attempt=rp.attempts
                )
            except TransitionError:
                continue
            report.abandoned_points.append(rp.id)
    for name in sorted(stores):
        store = store_of(name)
        listed = list(store.list_versions(f"{client_prefix(policy.client)}{RECOVERY_POINTS}/"))
        # Judged against rows read after the listing ended: a retry of a failed slot may
        # have uploaded and completed a version the listing shows while it was paged
        # through, and judged by an older read that version would look failed. A row only
        # moves on from here (each attempt ends complete or failed, once), so any version
        # listed before this read and a leftover by it stays a leftover.
        points = {rp.key: rp for rp in catalog.list_recovery_points(policy.client)}
        doomed = []
        for version in listed:
            if not belongs_to(policy.client, version.key, RECOVERY_POINTS):
                report.foreign_kept += 1  # another store's, seen through a nested root
                continue
            verdict = _verdict(version, points.get(version.key), name, cutoff)
            if verdict == "unknown":
                if not delete_unknown:
                    report.unknown_kept += 1
                    continue
                report.unknown_objects += 1
            if verdict is not None:
                doomed.append((version.key, version.version_id))
        if doomed:
            store.delete_versions(doomed)
            report.deleted_versions += len(doomed)
    report.archive = clean_archive_attempts(catalog, policy.client, store_of, now, cutoff)
    if any(
        (
            report.archive.deleted,
            report.archive.locked,
            report.archive.abandoned,
            report.deleted_versions,
            report.aborted_uploads,
            report.abandoned_points,
            report.unknown_kept,
            report.foreign_kept,
        )
    ):
        catalog.append_evidence(
            SYSTEM_ACTOR,
            "cleanup.removed",
            {"client": policy.client},
            {
                "aborted_uploads": report.aborted_uploads,
                "deleted_versions": report.deleted_versions,
                "abandoned_points": report.abandoned_points,
                "unknown_objects": report.unknown_objects,
                "unknown_kept": report.unknown_kept,
                "foreign_kept": report.foreign_kept,
                "archive_leftovers_deleted": report.archive.deleted,
                "archive_leftovers_locked": len(report.archive.locked),
                "archive_attempts_abandoned": report.archive.abandoned,
            },
            now,
        )
    return report


def _abort_stale_uploads(
    store: ObjectStore, client: str, cutoff: datetime, running: set[str]
) -> int:
    """Abort the unfinished uploads that no young attempt may still be writing."""
    stale = [
        u
        for u in store.list_unfinished_uploads(client_prefix(client))
        if u.initiated < cutoff and u.key not in running and belongs_to(client, u.key)
    ]
    for upload in stale:
        store.abort_unfinished_uploads(upload.key)
    return len(stale)


def _verdict(
    version: ObjectVersion, rp: RecoveryPoint | None, store: str, cutoff: datetime
) -> str | None:
    """Why a stored version is a leftover, or ``None`` when it must stay."""
    if rp is None:
        return "unknown" if version.last_modified < cutoff else None
    if rp.store != store:
        return None  # the row describes an object elsewhere; not ours to judge here
    if rp.status in ("failed", "deleted"):
        return rp.status
    if rp.status == "complete" and version.version_id != rp.version_id:
        return "superseded attempt"
    return None


@dataclass
class CleanupRun:
    """One cleanup over several clients: a report per client, and the clients that failed."""

    reports: dict[str, CleanupReport] = field(default_factory=dict)
    failures: dict[str, RetentionError] = field(default_factory=dict)


def cleanup_clients(
    catalog: Catalog,
    client_ids: Iterable[str],
    store_of: Callable[[str], ObjectStore],
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    delete_unknown: bool = False,
) -> CleanupRun:
    """Clean up each client that has a policy; one whose store fails is recorded and
    skipped, so an unreachable store never keeps the other clients' leftovers."""
    run = CleanupRun()
    for client in client_ids:
        policy = current_policy(catalog, client)
        if policy is None:
            continue
        try:
            run.reports[client] = cleanup_client(
                catalog, policy, store_of, now, grace=grace, delete_unknown=delete_unknown
            )
        except RetentionError as error:
            run.failures[client] = error
    return run
