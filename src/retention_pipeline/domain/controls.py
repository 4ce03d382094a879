"""Compliance controls: does what is stored match what each order form promised?

Modelled on AWS Backup Audit Manager's controls, adapted to order forms. Rules this
module enforces:

* pure: every control is a function of an ``AuditSnapshot`` and a ``Context`` (``now``,
  grace periods, windows); no I/O, no clock, so a snapshot replays to the same verdicts;
* rules are data: ``CONTROLS`` is the table the small interpreter ``evaluate`` walks, one
  row per control, in the order of the auditors' issue (C1..C10);
* every verdict carries its evidence: ids, dates (ISO 8601, UTC) and counts, never a
  name, a row of data or key material, so results may be printed, logged and reported;
* ``not_applicable`` is a verdict, not a silence: a client without the option a control
  checks gets a row that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from retention_pipeline.domain import control_rules as rules
from retention_pipeline.domain import oversight_rules as oversight
from retention_pipeline.domain.audit_snapshot import AuditSnapshot, ClientSnapshot

Verdict = Literal["compliant", "non_compliant", "not_applicable"]
VERDICTS: tuple[Verdict, ...] = ("compliant", "non_compliant", "not_applicable")
INSTALLATION = "*"
"""The pseudo client id of installation-wide controls (no client id can be ``*``)."""


@dataclass(frozen=True)
class Grace:
    """Slack before a late action counts as a breach (the DAGs run on a schedule too).

    ``schedule``: after a backup slot fires (automated backups); ``retention``: after a
    point's ``max_age`` or an archive period ends, and after a contract's erasure date.
    """

    schedule: timedelta = timedelta(hours=2)
    retention: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class ControlResult:
    """One control's verdict for one client (or ``INSTALLATION``), with its evidence."""

    client_id: str
    control_id: str
    title: str
    verdict: Verdict
    evidence: dict[str, Any] = field(default_factory=dict)


Outcome = tuple[Verdict, dict[str, Any]]
Check = Callable[[rules.Context, ClientSnapshot], Outcome]


@dataclass(frozen=True)
class Control:
    """A row of the control table: what is checked, for whom, by which function."""

    id: str
    title: str
    scope: Literal["client", "installation"]
    check: Check


CONTROLS: tuple[Control, ...] = (
    Control("C1", "active option has a current policy and a client key", "client",
            rules.policy_and_key),
    Control("C2", "last backup within its schedule plus grace", "client",
            rules.backup_freshness),
    Control("C3", "nothing kept past max_age, nothing deleted before min_age", "client",
            rules.retention_bounds),
    Control("C4", "every recovery point encrypted to exactly its recipients", "client",
            rules.encryption_recipients),
    Control("C5", "archive copies per period, on the declared store, with its lock", "client",
            rules.archive_copies),
    Control("C6", "stores are in the locations the policy declares", "client",
            oversight.store_locations),
    Control("C7", "rolling verification and restore drills are current", "client",
            oversight.integrity),
    Control("C8", "erasures finished in time with a certificate that verifies", "client",
            oversight.erasures),
    Control("C9", "evidence chain and certificate log are consistent", "installation",
            oversight.logs_consistent),
    Control("C10", "nothing processed while an option was off", "client",
            oversight.nothing_while_off),
)  # fmt: skip


def evaluate(
    snapshot: AuditSnapshot,
    now: datetime,
    *,
    grace: Grace | None = None,
    verify_window_days: int = 30,
    drill_window_days: int = 90,
) -> list[ControlResult]:
    """Every control for every client (by client id, then control), then the installation's.

    ``verify_window_days``: each complete recovery point must have passed a verification
    within this many days (the daily slice covers them all in that time);
    ``drill_window_days``: each client must have passed a restore drill within this many.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC); naive datetimes are ambiguous")
    if verify_window_days < 1 or drill_window_days < 1:
        raise ValueError("verify_window_days and drill_window_days must be at least 1 day")
    chosen = grace or Grace()
    context = rules.Context(
        now=now.astimezone(UTC),
        schedule_grace=chosen.schedule,
        retention_grace=chosen.retention,
        verify_window=timedelta(days=verify_window_days),
        drill_window=timedelta(days=drill_window_days),
        snapshot=snapshot,
    )
    results: list[ControlResult] = []
    for client in sorted(snapshot.clients, key=lambda c: c.client_id):
        results.extend(_run(context, client, (c for c in CONTROLS if c.scope == "client")))
    installation = ClientSnapshot(INSTALLATION, None)
    results.extend(_run(context, installation, (c for c in CONTROLS if c.scope != "client")))
    return results


def _run(
    context: rules.Context, client: ClientSnapshot, controls: Iterable[Control]
) -> list[ControlResult]:
    out = []
    for control in controls:
        verdict, evidence = control.check(context, client)
        out.append(ControlResult(client.client_id, control.id, control.title, verdict, evidence))
    return out


def summary(results: Iterable[ControlResult]) -> dict[Verdict, int]:
    """How many results have each verdict (every verdict present, zero included)."""
    counts: dict[Verdict, int] = dict.fromkeys(VERDICTS, 0)
    for result in results:
        counts[result.verdict] += 1
    return counts
