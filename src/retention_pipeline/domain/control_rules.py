"""The compliance controls themselves: one small pure function per order-form promise.

Each function takes the evaluation ``Context`` and one ``ClientSnapshot`` and returns
``(verdict, evidence)``; ``controls.CONTROLS`` registers them. Evidence holds ids, ISO
dates and counts only; id lists are capped at ``MAX_IDS`` (the count says how many).
Only ``complete`` recovery points count as stored backups; ``deleted`` ones count as
history (what was done), never as what is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from retention_pipeline.domain.audit_snapshot import AuditSnapshot, ClientSnapshot
from retention_pipeline.domain.schedule import archive_period_start, previous_fire
from retention_pipeline.ports.catalog import DONE_ERASURES, ArchiveCopy, RecoveryPoint

Outcome = tuple[Literal["compliant", "non_compliant", "not_applicable"], dict[str, Any]]
MAX_IDS = 10
IGNORED_ERASURES = frozenset({"dry_run", "refused"})
# GDPR art. 12(3): a request is answered without undue delay, at the latest in one month.
ERASURE_DEADLINE = timedelta(days=30)


@dataclass(frozen=True)
class Context:
    """What every control is evaluated against: the instant, grace periods, windows."""

    now: datetime
    schedule_grace: timedelta
    retention_grace: timedelta
    verify_window: timedelta
    drill_window: timedelta
    snapshot: AuditSnapshot


def iso(at: datetime | None) -> str | None:
    """An instant as evidence: ISO 8601 in UTC, whole seconds."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat() if at else None


def ids(items: Iterable[str]) -> list[str]:
    """At most ``MAX_IDS`` ids, sorted, for the evidence (counts go alongside)."""
    return sorted(items)[:MAX_IDS]


def verdict(ok: bool, evidence: dict[str, Any]) -> Outcome:
    """Compliant when ``ok``, else non-compliant; the evidence is the same either way."""
    return ("compliant" if ok else "non_compliant"), evidence


def not_applicable(reason: str, **evidence: Any) -> Outcome:
    """A control that does not apply, with a short reason code (never free text)."""
    return "not_applicable", {"reason": reason, **evidence}


def complete_points(client: ClientSnapshot) -> list[RecoveryPoint]:
    """The client's stored backups, oldest first."""
    return sorted(
        (p for p in client.recovery_points if p.status == "complete"), key=lambda p: p.created_at
    )


def present_copies(client: ClientSnapshot) -> list[ArchiveCopy]:
    """The client's archive copies still stored, oldest first."""
    return sorted(
        (c for c in client.archive_copies if c.status == "present"), key=lambda c: c.created_at
    )


def active_since(client: ClientSnapshot, option: Literal["backup", "archive"]) -> datetime | None:
    """When the option was last switched on and stayed on (None: it is off now)."""
    since = None
    for period in sorted(client.history, key=lambda p: p.version, reverse=True):
        if not (period.backup_active if option == "backup" else period.archive_active):
            break
        since = period.recorded_at
    if since is None and not client.history and client.policy is not None:
        on = client.policy.backup_active if option == "backup" else client.policy.archive_active
        return client.policy_recorded_at if on else None
    return since


def start_of_day(day: date) -> datetime:
    """UTC midnight of a contract date: deadlines are instants, contracts end on days."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def _erased(client: ClientSnapshot) -> list[str]:
    """The client's erasure requests that completed: its id is a tombstone."""
    return [r.id for r in client.erasure_requests if r.status in DONE_ERASURES]


# -- C1 ------------------------------------------------------------------------------------


def policy_and_key(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "how it is protected": an active option runs under a recorded policy
    version, and backups have someone to be encrypted to (the client key when the hoster
    may decrypt, else the client's own recipients)."""
    policy = client.policy
    if policy is None or not policy.processes_anything:
        return not_applicable("no_active_option", policy_version=client.policy_version)
    erased = _erased(client)
    if erased:  # its key was destroyed on purpose: nothing is processed any more
        return not_applicable("erased", erasure_requests=erased)
    key = client.key
    evidence = {
        "policy_version": client.policy_version,
        "policy_recorded_at": iso(client.policy_recorded_at),
        "key_fingerprint": key.fingerprint if key else None,
        "key_state": key.state if key else None,
        "client_recipients": len(policy.protection.client_recipients),
    }
    if policy.protection.hoster_can_decrypt:
        has_key = key is not None and key.state == "active"
    else:
        has_key = bool(policy.protection.client_recipients)
    return verdict(client.policy_version is not None and has_key, evidence)


# -- C2 ------------------------------------------------------------------------------------


def backup_freshness(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "how often": the newest complete backup covers the latest slot of
    ``backup.schedule`` whose grace has run out (automated mode only; semi-manual backups
    are taken on request and have no slot to miss)."""
    policy = client.policy
    if erased := _erased(client):  # a tombstone: nothing is due for it any more
        return not_applicable("erased", erasure_requests=erased)
    if policy is None or policy.backup.mode != "automated" or policy.backup.schedule is None:
        mode = policy.backup.mode if policy else None
        return not_applicable("not_automated", mode=mode)
    due = previous_fire(policy.backup.schedule, ctx.now - ctx.schedule_grace)
    points = complete_points(client)
    last = max(points, key=_slot, default=None)
    evidence: dict[str, Any] = {
        "schedule": policy.backup.schedule,
        "due_slot": iso(due),
        "grace_minutes": int(ctx.schedule_grace.total_seconds() // 60),
        "last_recovery_point": last.id if last else None,
        "last_slot": iso(_slot(last)) if last else None,
    }
    since = active_since(client, "backup")
    if since is not None and due < since:
        evidence["active_since"] = iso(since)
        return verdict(True, evidence)  # switched on after the last due slot: nothing due
    return verdict(last is not None and _slot(last) >= due, evidence)


def _slot(point: RecoveryPoint) -> datetime:
    return point.scheduled_for or point.created_at


# -- C3 ------------------------------------------------------------------------------------


def retention_bounds(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "for how long": no backup or archive copy outlives ``max_age`` (plus
    grace) unless a legal hold suspends deletion, and retention never deleted one before
    ``min_age`` (erasure may: it ends the contract's promises)."""
    policy = client.policy
    if policy is None:
        return not_applicable("no_policy")
    hold = policy.legal_hold.active
    overdue = [] if hold else _overdue(ctx, client)
    early = _early(client.recovery_points, policy.backup.retention.min_age)
    early += _early(client.archive_copies, policy.archive.retention.min_age)
    backup_max, archive_max = policy.backup.retention.max_age, policy.archive.retention.max_age
    evidence = {
        "legal_hold": hold,
        "backup_max_age_days": backup_max.days if backup_max else None,
        "archive_max_age_days": archive_max.days if archive_max else None,
        "kept_too_long": len(overdue),
        "kept_too_long_ids": ids(overdue),
        "deleted_too_early": len(early),
        "deleted_too_early_ids": ids(early),
    }
    if not (client.recovery_points or client.archive_copies):
        return not_applicable("nothing_stored", **evidence)
    return verdict(not overdue and not early, evidence)


def _overdue(ctx: Context, client: ClientSnapshot) -> list[str]:
    """Ids kept past ``max_age`` plus grace (a copy still locked cannot be deleted yet)."""
    assert client.policy is not None
    retention, late = client.policy, ctx.retention_grace
    backup_max, archive_max = (
        retention.backup.retention.max_age,
        retention.archive.retention.max_age,
    )
    found = []
    if backup_max is not None:
        found += [
            p.id for p in complete_points(client) if p.created_at + backup_max + late < ctx.now
        ]
    if archive_max is not None:
        found += [
            c.id
            for c in present_copies(client)
            if c.created_at + archive_max + late < ctx.now
            and (c.lock_until is None or c.lock_until + late < ctx.now)
        ]
    return found


def _early(items: Iterable[RecoveryPoint | ArchiveCopy], min_age: timedelta) -> list[str]:
    return [
        i.id
        for i in items
        if i.status == "deleted"
        and i.deleted_at is not None
        and (i.reason or "").startswith("retention")
        and i.deleted_at - i.created_at < min_age
    ]


# -- C4 ------------------------------------------------------------------------------------


def encryption_recipients(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "how it is protected": each stored backup is encrypted to exactly the
    recipients of the policy version in force when it was made: no hoster key when the
    client refused it, no missing client recipient, no stranger."""
    points = complete_points(client)
    if not points:
        return not_applicable("no_recovery_point")
    mismatched = []
    for point in points:
        period = client.period_at(point.created_at)
        if period is None or set(point.recipients) != period.recipients:
            mismatched.append(point.id)
    evidence = {
        "checked": len(points),
        "mismatched": len(mismatched),
        "mismatched_ids": ids(mismatched),
    }
    return verdict(not mismatched, evidence)


# -- C5 ------------------------------------------------------------------------------------


def archive_copies(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "archives": one copy per ``archive.every`` period (within the archive
    retention), on the declared archive store (never the backup store), in that store's
    location, with the declared object lock."""
    policy = client.policy
    if erased := _erased(client):
        return not_applicable("erased", erasure_requests=erased)
    if policy is None or not policy.archive_active or policy.archive.every is None:
        return not_applicable("archive_off")
    copies = present_copies(client)
    points = {p.id: p for p in client.recovery_points}
    missing = _missing_periods(ctx, client, points)
    declared = policy.archive.storage
    places = ctx.snapshot.store_locations
    wrong_store = [
        c.id
        for c in copies
        if c.store != declared
        or c.store == policy.backup.storage
        or (c.recovery_point_id in points and c.store == points[c.recovery_point_id].store)
    ]
    wrong_place = [c.id for c in copies if places.get(c.store) != places.get(declared or "")]
    lock = policy.archive.lock
    wrong_lock = [] if lock is None else [
        c.id for c in copies
        if c.lock_mode != lock.mode
        or c.lock_until is None
        or c.lock_until < c.created_at + timedelta(days=lock.days)
    ]  # fmt: skip
    evidence = {
        "every": policy.archive.every,
        "store": declared,
        "copies": len(copies),
        "missing_periods": len(missing),
        "missing_period_starts": [iso(m) for m in missing[:MAX_IDS]],
        "wrong_store_ids": ids(wrong_store),
        "wrong_location_ids": ids(wrong_place),
        "wrong_lock_ids": ids(wrong_lock),
        # copies interrupted half-way: what they left is cleanup's to remove (or, under a
        # lock, to list until it ends); shown so that an auditor sees every copy made
        "interrupted_copy_ids": ids(
            a.id for a in client.archive_attempts if a.status in ("pending", "failed")
        ),
    }
    return verdict(not (missing or wrong_store or wrong_place or wrong_lock), evidence)


def _missing_periods(
    ctx: Context, client: ClientSnapshot, points: dict[str, RecoveryPoint]
) -> list[datetime]:
    """Starts of the periods that had a complete backup but hold no archive copy."""
    policy = client.policy
    assert policy is not None and policy.archive.every is not None
    every, max_age = policy.archive.every, policy.archive.retention.max_age
    since = active_since(client, "archive")
    horizon = ctx.now - max_age if max_age is not None else None
    due = {
        archive_period_start(every, p.created_at)
        for p in points.values()
        if p.completed_at is not None
        and (since is None or p.created_at >= since)
        and p.created_at + ctx.retention_grace <= ctx.now
        and (horizon is None or p.created_at >= horizon)
    }
    archived = {
        archive_period_start(every, points[c.recovery_point_id].created_at)
        for c in present_copies(client)
        if c.recovery_point_id in points
    }
    return sorted(due - archived)
