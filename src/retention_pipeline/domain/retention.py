"""The retention planner: keep or expire, with its reason, for every point of one client.

Vocabulary: an *item* is a recovery point or an archive copy as the planner sees it (id,
creation time, whether it is complete, hold and lock); a *series* is the items of one
kind of one client; a *candidate* is an item the keep rules may thin.

Rules this module enforces, in this order (the first that applies decides):

1. protection before policy (Borg's protected archives): an item under legal hold, under
   an unexpired lock, dated in the future (a clock we cannot trust) or not complete (the
   cleanup of failed attempts owns it) is kept and set aside before any rule runs, so it
   does not use up a keep count;
2. ``max_age`` is a hard bound: an item at least ``max_age`` old expires, whatever the
   keep rules say and even if it is the newest point of an active client (the order form
   promises deletion; a client without fresh backups is an alarm for the scheduler, not a
   reason to keep data longer than signed);
3. restic's keep rules over the remaining candidates, newest first (ties: larger id
   first): each rule sees every candidate, keeps the newest of each UTC bucket until its
   count is used, and keeps the oldest candidate too while its count is not used up;
   the first rule in ``last, hourly, daily, weekly, monthly, yearly`` that keeps a point
   names the reason, with its bucket and counter (``3/7``);
4. ``min_age`` is never undercut: a candidate younger than ``min_age`` is kept. Young
   candidates do take part in the keep rules (``daily: 7`` means the last 7 days, not 7
   days after the young ones);
5. the newest complete recovery point of an active client (holds included, future ones
   excluded) is never expired by count rules;
6. with no keep count at all (archives), every candidate is kept until ``max_age``.

The planner is pure and deterministic: ``now`` is a parameter, input order never
changes a decision, and planning again over the kept items expires nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Literal

from retention_pipeline.domain.buckets import (
    RULE_ORDER,
    RuleName,
    bucket_key,
    bucket_label,
    to_micros,
)
from retention_pipeline.domain.durations import format_duration
from retention_pipeline.domain.policy import ClientPolicy

ItemKind = Literal["recovery_point", "archive_copy"]
Action = Literal["keep", "expire"]
ITEM_KINDS: tuple[ItemKind, ...] = ("recovery_point", "archive_copy")
POLICY_HOLD = "client-policy"
"""Hold code for ``legal_hold.active`` in a policy (its free-text reason is personal)."""


def as_utc(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC); got a naive datetime")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Item:
    """What the planner needs to know of one recovery point or archive copy.

    ``held`` is an opaque hold code (never the hold's free-text reason: it is rendered into
    reasons and logs); ``locked_until`` is the object lock's retain-until date.
    """

    id: str
    created_at: datetime
    kind: ItemKind = "recovery_point"
    complete: bool = True
    held: str | None = None
    locked_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in ITEM_KINDS:
            raise ValueError(f"item {self.id}: kind must be one of {ITEM_KINDS}")
        object.__setattr__(self, "created_at", as_utc(self.created_at, f"item {self.id}"))
        if self.locked_until is not None:
            locked = as_utc(self.locked_until, f"item {self.id} locked_until")
            object.__setattr__(self, "locked_until", locked)


@dataclass(frozen=True)
class KeepCounts:
    """How many points each restic-style rule keeps (0: the rule is off)."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    def __post_init__(self) -> None:
        for each in fields(self):
            if getattr(self, each.name) < 0:
                raise ValueError(f"keep.{each.name} must be 0 or more")

    def count(self, rule: RuleName) -> int:
        """The count of one rule, by name."""
        value: int = getattr(self, rule)
        return value

    @property
    def empty(self) -> bool:
        """No count rule at all: candidates are kept until ``max_age``."""
        return not any(self.count(rule) for rule in RULE_ORDER)


@dataclass(frozen=True)
class RetentionRules:
    """One series' retention: hard bounds (``max_age``, ``min_age``) and the keep counts."""

    max_age: timedelta | None = None
    min_age: timedelta = timedelta(0)
    keep: KeepCounts = field(default_factory=KeepCounts)

    def __post_init__(self) -> None:
        if self.min_age < timedelta(0):
            raise ValueError("retention.min_age cannot be negative")
        if self.max_age is not None and self.max_age < self.min_age:
            # Both bounds cannot hold at once: policy validation refuses such a file.
            raise ValueError("retention.min_age is longer than retention.max_age")


def rules_for_backups(policy: ClientPolicy) -> RetentionRules:
    """The rules for a client's recovery points, from ``backup.retention``."""
    retention = policy.backup.retention
    keep = KeepCounts(**retention.keep.model_dump())
    return RetentionRules(max_age=retention.max_age, min_age=retention.min_age, keep=keep)


def rules_for_archives(policy: ClientPolicy) -> RetentionRules:
    """The rules for a client's archive copies: bounds only, no keep counts (so every copy
    lives until ``archive.retention.max_age``; locks come with each copy's ``locked_until``)."""
    retention = policy.archive.retention
    return RetentionRules(max_age=retention.max_age, min_age=retention.min_age)


def policy_hold(policy: ClientPolicy) -> str | None:
    """The hold code to put on every item of a client whose policy has a legal hold."""
    return POLICY_HOLD if policy.legal_hold.active else None


def _when(moment: datetime) -> str:
    if moment.hour == moment.minute == moment.second == moment.microsecond == 0:
        return moment.date().isoformat()
    return moment.isoformat().replace("+00:00", "Z")


def _span(duration: timedelta) -> str:
    try:
        return format_duration(duration)
    except ValueError:  # not whole hours: still say it exactly
        return str(duration)


@dataclass(frozen=True)
class Reason:
    """Why an item is kept or expired: the rule, and what the rule looked at.

    ``rule`` is a stable code (``keep.daily``, ``legal_hold``, ``locked``, ``future``,
    ``incomplete``, ``max_age``, ``min_age``, ``newest_complete``, ``no_count_rules``,
    ``no_rule_matched``); ``bucket`` and ``counter`` come with ``keep.*`` rules;
    ``detail`` holds the hold code, a date or the bound that applied. No field ever holds
    client data, so a reason may go to logs, reports and certificates unchanged.
    """

    rule: str
    bucket: str | None = None
    counter: str | None = None
    oldest: bool = False
    detail: str | None = None

    @property
    def text(self) -> str:
        """The reason on one line, as operators and auditors read it."""
        fixed = _FIXED_TEXT.get(self.rule)
        if fixed is not None:
            return fixed
        if self.rule == "legal_hold":
            return f"legal_hold: {self.detail}"
        if self.rule == "locked":
            return f"locked until {self.detail}"
        if self.rule in ("max_age", "min_age", "future"):
            return f"{_BOUND_TEXT[self.rule]} ({self.detail})"
        where = f" {self.bucket}" if self.bucket else ""
        if self.oldest:
            return f"{self.rule}{where} (oldest point, count not met: {self.counter})"
        return f"{self.rule}{where} ({self.counter})"


_FIXED_TEXT = {
    "incomplete": "not complete (cleanup handles it)",
    "newest_complete": "newest complete point of an active client",
    "no_count_rules": "no keep count set: kept until max_age",
    "no_rule_matched": "no keep rule matched",
}
_BOUND_TEXT = {
    "max_age": "max_age exceeded",
    "min_age": "min_age not reached",
    "future": "dated in the future",
}


@dataclass(frozen=True)
class Decision:
    """Keep or expire one item, and why."""

    item_id: str
    action: Action
    reason: Reason


def _protection(item: Item, rules: RetentionRules, now: datetime) -> Decision | None:
    """Steps 1 and 2: protections, then the hard ``max_age`` bound."""
    created = _when(item.created_at)
    if item.held is not None:
        return Decision(item.id, "keep", Reason("legal_hold", detail=item.held))
    if item.locked_until is not None and item.locked_until > now:
        return Decision(item.id, "keep", Reason("locked", detail=_when(item.locked_until)))
    if item.created_at > now:
        return Decision(item.id, "keep", Reason("future", detail=f"created {created}"))
    if not item.complete:
        return Decision(item.id, "keep", Reason("incomplete"))
    if rules.max_age is not None and now - item.created_at >= rules.max_age:
        detail = f"created {created}, max {_span(rules.max_age)}"
        return Decision(item.id, "expire", Reason("max_age", detail=detail))
    return None


def _keep_rules(candidates: Sequence[Item], keep: KeepCounts) -> dict[str, Reason]:
    """Step 3, restic's ``ApplyPolicy``: candidates are sorted newest first."""
    reasons: dict[str, Reason] = {}
    oldest_index = len(candidates) - 1
    for rule in RULE_ORDER:
        limit = keep.count(rule)
        used, previous = 0, None
        for index, item in enumerate(candidates):
            if used >= limit:
                break
            micros = to_micros(item.created_at)
            key = index if rule == "last" else bucket_key(rule, micros)
            if key == previous and index != oldest_index:
                continue
            used += 1
            if item.id not in reasons:
                label = None if rule == "last" else bucket_label(rule, key)
                reasons[item.id] = Reason(
                    f"keep.{rule}", label, f"{used}/{limit}", oldest=key == previous
                )
            previous = key
    return reasons


def _newest_complete(series: Sequence[Item], now: datetime) -> str | None:
    for item in series:  # newest first
        if item.kind == "recovery_point" and item.complete and item.created_at <= now:
            return item.id
    return None


def _plan_series(
    series: Sequence[Item], rules: RetentionRules, now: datetime, client_active: bool
) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    candidates: list[Item] = []
    for item in series:
        protected = _protection(item, rules, now)
        if protected is None:
            candidates.append(item)
        else:
            decisions[item.id] = protected
    kept = _keep_rules(candidates, rules.keep)
    guarded = _newest_complete(series, now) if client_active else None
    for item in candidates:
        reason = kept.get(item.id)
        if reason is None and now - item.created_at < rules.min_age:
            detail = f"created {_when(item.created_at)}, min {_span(rules.min_age)}"
            reason = Reason("min_age", detail=detail)
        elif reason is None and item.id == guarded:
            reason = Reason("newest_complete")
        elif reason is None and rules.keep.empty:
            reason = Reason("no_count_rules")
        if reason is None:
            decisions[item.id] = Decision(item.id, "expire", Reason("no_rule_matched"))
        else:
            decisions[item.id] = Decision(item.id, "keep", reason)
    return decisions


def plan_retention(
    items: Iterable[Item], rules: RetentionRules, now: datetime, *, client_active: bool
) -> list[Decision]:
    """Decide keep or expire, with a reason, for every item of one client.

    Recovery points and archive copies are planned as separate series (their counts do
    not mix); callers normally pass one kind with that kind's rules. Returns one decision
    per item, in input order. Raises ``ValueError`` for naive times or duplicate ids.
    """
    now = as_utc(now, "now")
    listed = list(items)
    if len({item.id for item in listed}) != len(listed):
        raise ValueError("item ids must be unique within one plan")
    decisions: dict[str, Decision] = {}
    for kind in ITEM_KINDS:
        series = [item for item in listed if item.kind == kind]
        series.sort(key=lambda item: (item.created_at, item.id), reverse=True)
        decisions.update(_plan_series(series, rules, now, client_active))
    return [decisions[item.id] for item in listed]
