"""Enforce retention: plan with the pure planner, delete what expired, report every reason.

Ordering, which every change here must keep:

1. the plan comes from ``domain.retention.plan_retention`` alone, with ``now`` passed in,
   so a dry run prints exactly the set that a real run deletes;
2. for each expired item, every version and delete marker of its object is deleted
   first, then its catalog row is marked ``deleted`` with the reason (a crash in between
   leaves a row whose object is gone: the next run finds nothing to delete and marks it);
3. a report with one row per item and its reason is written (JSON and CSV).

Retention only touches complete recovery points and present archive copies; failed and
pending attempts belong to ``cleanup``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.domain.retention import (
    Item,
    plan_retention,
    policy_hold,
    rules_for_archives,
    rules_for_backups,
)
from retention_pipeline.ports.catalog import CLIENT_LOCK_WAIT, Catalog
from retention_pipeline.ports.store import ObjectStore
from retention_pipeline.services.client_keys import SYSTEM_ACTOR
from retention_pipeline.services.objects import purge_object
from retention_pipeline.services.policies import current_policy

REPORT_FIELDS = ("client", "kind", "id", "store", "created_at", "action", "reason")


@dataclass(frozen=True)
class PlannedItem:
    """One row of a retention plan and report (ids, dates and reasons only)."""

    client: str
    kind: str
    id: str
    store: str
    key: str
    version_id: str | None
    created_at: datetime
    action: str
    reason: str

    def row(self) -> dict[str, str]:
        """The report's columns for this item."""
        return {
            "client": self.client,
            "kind": self.kind,
            "id": self.id,
            "store": self.store,
            "created_at": self.created_at.isoformat(),
            "action": self.action,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RetentionRun:
    """What a retention run decided and did."""

    now: datetime
    items: list[PlannedItem]
    deleted: list[str]
    dry_run: bool
    report_paths: tuple[str, ...] = ()

    @property
    def expired(self) -> list[PlannedItem]:
        """Items the plan expires (deleted unless this was a dry run)."""
        return [i for i in self.items if i.action == "expire"]


@dataclass
class RetentionService:
    """Plan and apply retention over the catalog; wired by bootstrap."""

    catalog: Catalog
    store: Callable[[str], ObjectStore]
    reports_dir: Path

    def plan(self, now: datetime, clients: Iterable[str] | None = None) -> list[PlannedItem]:
        """Keep or expire, with a reason, for every complete point and present copy."""
        ids = list(clients) if clients is not None else self._clients()
        planned: list[PlannedItem] = []
        for client_id in ids:
            policy = current_policy(self.catalog, client_id)
            if policy is not None:
                planned.extend(self._plan_client(policy, now))
        return planned

    def apply(
        self, now: datetime, clients: Iterable[str] | None = None, *, dry_run: bool = False
    ) -> RetentionRun:
        """Delete what the plan expires (unless ``dry_run``) and write the report."""
        if dry_run:
            items = self.plan(now, clients)
            return RetentionRun(now, items, [], dry_run, self._write_report(items, now, dry_run))
        items, deleted = [], []
        # each client planned and applied under its lock: a backup or an erasure of the
        # client cannot change what the plan decided on between the two
        for client_id in list(clients) if clients is not None else self._clients():
            with self.catalog.client_lock(client_id, "retention apply", wait=CLIENT_LOCK_WAIT):
                planned = self.plan(now, [client_id])
                for item in planned:
                    if item.action == "expire":
                        self._delete(item, now)
                        deleted.append(item.id)
            items += planned
        paths = self._write_report(items, now, dry_run)
        return RetentionRun(now, items, deleted, dry_run, paths)

    def _clients(self) -> list[str]:
        return [c.client_id for c in self.catalog.list_clients()]

    def _plan_client(self, policy: ClientPolicy, now: datetime) -> list[PlannedItem]:
        hold = policy_hold(policy)
        points = self.catalog.list_recovery_points(policy.client, statuses=["complete"])
        copies = [
            c for c in self.catalog.list_archive_copies(policy.client) if c.status == "present"
        ]
        planned: list[PlannedItem] = []
        if points and policy.backup.retention.max_age is not None:
            items = [Item(p.id, p.created_at, "recovery_point", True, hold) for p in points]
            decisions = plan_retention(
                items, rules_for_backups(policy), now, client_active=policy.backup_active
            )
            for p, d in zip(points, decisions, strict=True):
                planned.append(
                    PlannedItem(
                        policy.client,
                        "recovery_point",
                        p.id,
                        p.store,
                        p.key,
                        p.version_id,
                        p.created_at,
                        d.action,
                        d.reason.text,
                    )
                )
        if copies and policy.archive.retention.max_age is not None:
            items = [
                Item(c.id, c.created_at, "archive_copy", True, hold, c.lock_until) for c in copies
            ]
            decisions = plan_retention(
                items, rules_for_archives(policy), now, client_active=policy.archive_active
            )
            for c, d in zip(copies, decisions, strict=True):
                planned.append(
                    PlannedItem(
                        policy.client,
                        "archive_copy",
                        c.id,
                        c.store,
                        c.key,
                        c.version_id,
                        c.created_at,
                        d.action,
                        d.reason.text,
                    )
                )
        return planned

    def _delete(self, item: PlannedItem, now: datetime) -> None:
        """Every version and marker of the object, then the catalog row, then evidence."""
        versions = purge_object(self.store(item.store), item.key)
        if item.kind == "recovery_point":
            self.catalog.mark_recovery_point_deleted(item.id, f"retention: {item.reason}", now)
        else:
            self.catalog.mark_archive_copy_deleted(item.id, f"retention: {item.reason}", now)
        self.catalog.append_evidence(
            SYSTEM_ACTOR,
            "retention.expired",
            {"client": item.client, item.kind: item.id},
            {"store": item.store, "versions": versions, "reason": item.reason},
            now,
        )

    def _write_report(
        self, items: list[PlannedItem], now: datetime, dry_run: bool
    ) -> tuple[str, ...]:
        """JSON and CSV, one row per item with its reason, named by the run's time."""
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        stem = f"retention-{now:%Y%m%dT%H%M%SZ}{'-dry-run' if dry_run else ''}"
        rows = [i.row() for i in items]
        json_path = self.reports_dir / f"{stem}.json"
        json_path.write_text(
            json.dumps({"now": now.isoformat(), "dry_run": dry_run, "items": rows}, indent=2)
        )
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        csv_path = self.reports_dir / f"{stem}.csv"
        csv_path.write_text(buffer.getvalue())
        return (str(json_path), str(csv_path))
