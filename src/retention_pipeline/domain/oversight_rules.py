"""Compliance controls C6..C10: locations, integrity, erasure, logs, privacy by default.

Same contract as ``control_rules`` (pure, one function per order-form promise, evidence
of ids, ISO dates and counts only); split off to keep each file readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from retention_pipeline.domain.audit_snapshot import ClientSnapshot
from retention_pipeline.domain.control_rules import (
    ERASURE_DEADLINE,
    IGNORED_ERASURES,
    Context,
    Outcome,
    complete_points,
    ids,
    iso,
    not_applicable,
    present_copies,
    start_of_day,
    verdict,
)
from retention_pipeline.ports.catalog import DONE_ERASURES, ErasureRequest, IntegrityCheck

# -- C6 ------------------------------------------------------------------------------------


def store_locations(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "where it is kept": the stores the policy names exist and state a
    location, and every stored backup and archive copy sits in the location of the store
    the policy declares for it."""
    policy = client.policy
    if policy is None or not policy.processes_anything:
        return not_applicable("no_active_option")
    places = ctx.snapshot.store_locations
    declared = {
        kind: name
        for kind, name, on in (
            ("backup", policy.backup.storage, policy.backup_active),
            ("archive", policy.archive.storage, policy.archive_active),
        )
        if on and name is not None
    }
    unknown = sorted(n for n in declared.values() if n not in places)
    unstated = sorted(n for n in declared.values() if n in places and not places[n])
    misplaced = []
    if "backup" in declared:
        want = places.get(declared["backup"])
        misplaced += [p.id for p in complete_points(client) if places.get(p.store) != want]
    if "archive" in declared:
        want = places.get(declared["archive"])
        misplaced += [c.id for c in present_copies(client) if places.get(c.store) != want]
    evidence = {
        "declared": {kind: {"store": n, "location": places.get(n)} for kind, n in declared.items()},
        "unknown_stores": unknown,
        "stores_without_location": unstated,
        "misplaced": len(misplaced),
        "misplaced_ids": ids(misplaced),
    }
    return verdict(not (unknown or unstated or misplaced), evidence)


# -- C7 ------------------------------------------------------------------------------------


def integrity(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "how it is protected", proven: every stored backup was read back
    (decrypt + checksums) within the verification window, none's latest check failed, and
    a restore drill into a scratch database passed within the drill window."""
    points = complete_points(client)
    if not points:
        return not_applicable("no_recovery_point")
    checks = sorted(client.integrity_checks, key=lambda c: c.checked_at)
    verified = _latest(c for c in checks if c.kind == "verify")
    horizon = ctx.now - ctx.verify_window
    unverified = [
        p.id
        for p in points
        if (verified.get(p.id) is None or verified[p.id].checked_at < horizon)
        and p.created_at < horizon
    ]
    failing = [p.id for p in points if p.id in verified and verified[p.id].result == "failed"]
    drills = [c for c in checks if c.kind == "restore_drill"]
    passed = [d.checked_at for d in drills if d.result == "passed"]
    last_drill = drills[-1] if drills else None
    drill_due = points[0].created_at < ctx.now - ctx.drill_window
    drill_ok = (not drill_due or (bool(passed) and passed[-1] >= ctx.now - ctx.drill_window)) and (
        last_drill is None or last_drill.result == "passed"
    )
    evidence = {
        "recovery_points": len(points),
        "window_days": ctx.verify_window.days,
        "unverified": len(unverified),
        "unverified_ids": ids(unverified),
        "failed_ids": ids(failing),
        "drill_window_days": ctx.drill_window.days,
        "last_drill_at": iso(last_drill.checked_at) if last_drill else None,
        "last_drill_result": last_drill.result if last_drill else None,
        "last_drill_recovery_point": last_drill.recovery_point_id if last_drill else None,
    }
    return verdict(not unverified and not failing and drill_ok, evidence)


def _latest(checks: Iterable[IntegrityCheck]) -> dict[str, IntegrityCheck]:
    """The newest check per recovery point (``checks`` oldest first)."""
    latest: dict[str, IntegrityCheck] = {}
    for check in checks:
        latest[check.recovery_point_id] = check
    return latest


# -- C8 ------------------------------------------------------------------------------------


def erasures(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Order form "how it is erased": every erasure request finished within its deadline
    with a certificate that verifies offline, and a contract past its end plus
    ``erasure.after_contract_end`` has its erasure under way."""
    requests = [r for r in client.erasure_requests if r.status not in IGNORED_ERASURES]
    contract_due = _contract_deadline(ctx, client)
    if not requests and (contract_due is None or contract_due > ctx.now):
        return not_applicable("no_erasure_due")
    verified = {c.erasure_request_id for c in client.certificates if c.verified}
    late, overdue, uncertified = [], [], []
    for request in requests:
        deadline = request_deadline(request)
        if request.status in DONE_ERASURES:
            if request.finished_at is None or request.finished_at > deadline:
                late.append(request.id)
            if request.id not in verified:
                uncertified.append(request.id)
        elif ctx.now > deadline:
            overdue.append(request.id)
    not_started = (
        contract_due is not None
        and contract_due <= ctx.now
        and not any(r.created_at <= contract_due for r in requests)
    )
    bad_certificates = [c.id for c in client.certificates if not c.verified]
    evidence = {
        "requests": len(requests),
        "contract_erasure_due": iso(contract_due),
        "erasure_not_started": not_started,
        "finished_late_ids": ids(late),
        "overdue_ids": ids(overdue),
        "without_verified_certificate_ids": ids(uncertified),
        "certificates": len(client.certificates),
        "unverified_certificate_ids": ids(bad_certificates),
    }
    ok = not (late or overdue or uncertified or not_started or bad_certificates)
    return verdict(ok, evidence)


def _contract_deadline(ctx: Context, client: ClientSnapshot) -> datetime | None:
    """When the erasure of an ended contract must have started (None: no end date)."""
    policy = client.policy
    if policy is None or policy.contract.ends_on is None:
        return None
    end = start_of_day(policy.contract.ends_on)
    return end + policy.erasure.after_contract_end + ctx.retention_grace


def request_deadline(request: ErasureRequest) -> datetime:
    """When an erasure request must be finished (GDPR art. 12(3): one month)."""
    return request.created_at + ERASURE_DEADLINE


# -- C9 ------------------------------------------------------------------------------------


def logs_consistent(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Installation-wide, behind every order form's evidence: the evidence log's hash
    chain is unbroken and matches its witnessed checkpoints (``log verify``), and the
    certificate log's checkpoints extend one another."""
    chain, log = ctx.snapshot.evidence, ctx.snapshot.certificate_log
    evidence = {
        "evidence_entries_verified": chain.checked,
        "evidence_first_bad_seq": chain.first_bad_seq,
        "evidence_last_trusted_seq": None if chain.ok else chain.checked,
        "certificate_log_ok": log.ok,
        "checkpoint_old_size": log.old_size,
        "checkpoint_new_size": log.new_size,
    }
    return verdict(chain.ok and log.ok, evidence)


# -- C10 -----------------------------------------------------------------------------------


def nothing_while_off(ctx: Context, client: ClientSnapshot) -> Outcome:
    """Privacy by default: no backup was made while the client's backup option was off,
    and no archive copy while its archive option was off (or before any policy)."""
    history = client.history
    if history and all(p.backup_active and p.archive_active for p in history):
        return not_applicable("options_always_on")
    backups = []
    for point in client.recovery_points:
        period = client.period_at(point.created_at)
        if period is None or not period.backup_active:
            backups.append(point.id)
    copies = []
    for copy in client.archive_copies:
        period = client.period_at(copy.created_at)
        if period is None or not period.archive_active:
            copies.append(copy.id)
    evidence = {
        "recovery_points_while_off": len(backups),
        "recovery_point_ids": ids(backups),
        "archive_copies_while_off": len(copies),
        "archive_copy_ids": ids(copies),
    }
    return verdict(not backups and not copies, evidence)
