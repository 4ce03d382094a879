"""The compliance report: the controls' verdicts and the facts behind them, as tables.

Auditors asked for one file they can keep (CSV or JSON for their tools, HTML for people)
that shows, per client, every control's verdict with its evidence, and the few facts a
reader checks first: how old the newest backup is against its schedule, how many bytes
sit in each location, how far back retention reaches, and which erasures are due when.

Rules this module keeps:

* the verdicts are those of ``domain.controls.evaluate`` over the same snapshot, never
  recomputed here: the report shows what the controls decided, with their evidence;
* one row per client and control (the installation-wide C9 under the client ``*``);
* ids, dates, counts and bytes only: the snapshot's policies are read for durations and
  schedules, never for ``display_name`` or other personal fields;
* writing is separate from building, so a test (or the Airflow plugin) gets the
  ``Report`` and its DataFrames without touching a file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from retention_pipeline.domain.audit_snapshot import AuditSnapshot, ClientSnapshot
from retention_pipeline.domain.control_rules import (
    IGNORED_ERASURES,
    complete_points,
    iso,
    present_copies,
    start_of_day,
)
from retention_pipeline.domain.controls import (
    INSTALLATION,
    ControlResult,
    Grace,
    Verdict,
    evaluate,
)
from retention_pipeline.domain.oversight_rules import request_deadline
from retention_pipeline.domain.schedule import next_fire, previous_fire
from retention_pipeline.errors import NotFoundError
from retention_pipeline.ports.catalog import DONE_ERASURES
from retention_pipeline.services.audit import (
    AuditedInstallation,
    build_snapshot,
    evidence_verdict,
)

Format = Literal["html", "csv", "json"]
FORMATS: tuple[Format, ...] = ("html", "csv", "json")
UNDECLARED = "(undeclared)"
"""The location label of a store whose settings declare no location."""

RESULT_COLUMNS = ["client", "control", "title", "verdict", "evidence"]
CLIENT_COLUMNS = [
    "client", "backup_mode", "schedule", "last_backup_at", "backup_age_hours",
    "allowed_age_hours", "backup_max_age_days", "oldest_backup_days", "archive_max_age_days",
    "oldest_archive_days", "erasure_deadline", "erasure_days_left",
]  # fmt: skip
STORAGE_COLUMNS = ["location", "store", "objects", "bytes"]


@dataclass(frozen=True)
class Report:
    """What every format shows: the verdicts and the facts the charts draw.

    ``results``: one row per client and control (``RESULT_COLUMNS``, evidence as a dict);
    ``clients``: one row per client (``CLIENT_COLUMNS``, NaN where a fact does not apply);
    ``storage``: bytes and objects stored, per location and store (``STORAGE_COLUMNS``).
    """

    generated_at: datetime
    results: pd.DataFrame
    clients: pd.DataFrame
    storage: pd.DataFrame

    @property
    def summary(self) -> dict[Verdict, int]:
        """How many results have each verdict (every verdict present, zero included)."""
        counts: dict[Verdict, int] = {"compliant": 0, "non_compliant": 0, "not_applicable": 0}
        for verdict, count in self.results["verdict"].value_counts().items():
            counts[verdict] = int(count)
        return counts


def report(
    installation: AuditedInstallation,
    now: datetime,
    *,
    client: str | None = None,
    verify_window_days: int = 30,
    drill_window_days: int = 90,
) -> Report:
    """Audit the installation at ``now`` and gather the report (``client``: only that one).

    Raises ``NotFoundError`` when ``client`` is not in the catalog.
    """
    catalog = installation.catalog
    public_key = None
    if catalog.certificate_leaves():
        # As in ``audit``: only an installation that issued certificates has the key file.
        public_key = installation.signing_key().public_key()
    snapshot = build_snapshot(
        catalog, installation.settings, public_key, now, evidence=evidence_verdict(installation)
    )
    results = evaluate(
        snapshot, now, verify_window_days=verify_window_days, drill_window_days=drill_window_days
    )
    return build_report(snapshot, results, now, client=client)


def build_report(
    snapshot: AuditSnapshot,
    results: Iterable[ControlResult],
    now: datetime,
    *,
    client: str | None = None,
    grace: Grace | None = None,
) -> Report:
    """The report of ``results`` (evaluated on ``snapshot`` at ``now``); no I/O."""
    clients = list(snapshot.clients)
    chosen = list(results)
    if client is not None:
        if client not in {c.client_id for c in clients}:
            raise NotFoundError(
                f"client {client!r} is not in the catalog; list clients with: "
                "retention-pipeline policy list"
            )
        clients = [c for c in clients if c.client_id == client]
        chosen = [r for r in chosen if r.client_id in (client, INSTALLATION)]
    slack = (grace or Grace()).schedule
    rows = [
        {"client": r.client_id, "control": r.control_id, "title": r.title,
         "verdict": r.verdict, "evidence": r.evidence}
        for r in chosen
    ]  # fmt: skip
    facts = [client_facts(c, now, slack) for c in sorted(clients, key=lambda c: c.client_id)]
    return Report(
        generated_at=now.astimezone(UTC),
        results=pd.DataFrame(rows, columns=RESULT_COLUMNS),
        clients=pd.DataFrame(facts, columns=CLIENT_COLUMNS),
        storage=storage_by_location(clients, snapshot.store_locations),
    )


def client_facts(client: ClientSnapshot, now: datetime, slack: timedelta) -> dict[str, Any]:
    """One client's chart facts: backup age, retention reach, next erasure deadline."""
    policy = client.policy
    points, copies = complete_points(client), present_copies(client)
    newest = points[-1] if points else None
    schedule = policy.backup.schedule if policy else None
    allowed = None
    if schedule is not None and policy is not None and policy.backup.mode == "automated":
        slot = previous_fire(schedule, now)
        allowed = _hours(next_fire(schedule, slot) - slot + slack)
    backup_max = policy.backup.retention.max_age if policy else None
    archive_max = policy.archive.retention.max_age if policy else None
    deadline = erasure_deadline(client)
    return {
        "client": client.client_id,
        "backup_mode": policy.backup.mode if policy else None,
        "schedule": schedule,
        "last_backup_at": iso(newest.created_at) if newest else None,
        "backup_age_hours": _hours(now - newest.created_at) if newest else math.nan,
        "allowed_age_hours": allowed if allowed is not None else math.nan,
        "backup_max_age_days": _days(backup_max) if backup_max else math.nan,
        "oldest_backup_days": _days(now - points[0].created_at) if points else math.nan,
        "archive_max_age_days": _days(archive_max) if archive_max else math.nan,
        "oldest_archive_days": _days(now - copies[0].created_at) if copies else math.nan,
        "erasure_deadline": iso(deadline),
        "erasure_days_left": _days(deadline - now) if deadline else math.nan,
    }


def erasure_deadline(client: ClientSnapshot) -> datetime | None:
    """The earliest deadline of an unfinished erasure: an open request's (one month), or
    the contract's end plus ``erasure.after_contract_end`` while no request was made."""
    open_requests = [
        r
        for r in client.erasure_requests
        if r.status not in DONE_ERASURES and r.status not in IGNORED_ERASURES
    ]
    deadlines = [request_deadline(r) for r in open_requests]
    policy = client.policy
    if policy is not None and policy.contract.ends_on is not None and not client.erasure_requests:
        deadlines.append(start_of_day(policy.contract.ends_on) + policy.erasure.after_contract_end)
    return min(deadlines, default=None)


def storage_by_location(
    clients: Iterable[ClientSnapshot], locations: Mapping[str, str | None]
) -> pd.DataFrame:
    """Bytes and objects kept (complete backups, present archive copies) per location."""
    rows = []
    for client in clients:
        rows += [{"store": p.store, "bytes": p.size or 0} for p in complete_points(client)]
        rows += [{"store": c.store, "bytes": c.size} for c in present_copies(client)]
    frame = pd.DataFrame(rows, columns=["store", "bytes"])
    frame["location"] = [locations.get(s) or UNDECLARED for s in frame["store"]]
    grouped = frame.groupby(["location", "store"], as_index=False).agg(
        objects=("bytes", "size"), bytes=("bytes", "sum")
    )
    return grouped[STORAGE_COLUMNS].sort_values(["location", "store"], ignore_index=True)


def write(report: Report, fmt: Format, path: Path) -> Path:
    """Write the report in ``fmt`` to ``path`` (parent folders created); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        to_csv(report, path)
    elif fmt == "json":
        to_json(report, path)
    else:
        to_html(report, path)
    return path


def to_csv(report: Report, path: Path) -> None:
    """One CSV row per client and control; the evidence column is compact JSON."""
    frame = report.results.copy()
    frame["evidence"] = [_json(e) for e in frame["evidence"]]
    frame.to_csv(path, index=False)


def to_json(report: Report, path: Path) -> None:
    """The whole report as one JSON document (``results`` holds one row per control)."""
    document = {
        "generated_at": iso(report.generated_at),
        "summary": report.summary,
        "results": records(report.results),
        "clients": records(report.clients),
        "storage": records(report.storage),
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def to_html(report: Report, path: Path) -> None:
    """The self-contained HTML page (see ``services.report_html``)."""
    from retention_pipeline.services.report_html import render

    path.write_text(render(report), encoding="utf-8")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, missing facts as ``None`` (JSON has no NaN)."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({str(k): (None if _missing(v) else _plain(v)) for k, v in row.items()})
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, so ``json`` accepts them."""
    return value.item() if hasattr(value, "item") else value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)
