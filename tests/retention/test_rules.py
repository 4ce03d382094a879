"""Rules built from a policy, and the inputs the planner refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import yaml

from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.domain.retention import (
    Item,
    KeepCounts,
    Reason,
    RetentionRules,
    plan_retention,
    rules_for_archives,
    rules_for_backups,
)
from tests.policy.examples import GOOD_POLICY
from tests.retention.strategies import NOW


def test_backup_rules_come_from_the_order_form() -> None:
    policy = ClientPolicy.from_document(yaml.safe_load(GOOD_POLICY))
    assert rules_for_backups(policy) == RetentionRules(
        max_age=timedelta(days=35),
        min_age=timedelta(days=7),
        keep=KeepCounts(last=3, daily=7, weekly=4, monthly=6),
    )
    assert rules_for_archives(policy) == RetentionRules(max_age=timedelta(days=3650))


def test_contradictory_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match=r"min_age is longer than retention\.max_age"):
        RetentionRules(max_age=timedelta(days=1), min_age=timedelta(days=2))
    with pytest.raises(ValueError, match=r"keep\.daily must be 0 or more"):
        KeepCounts(daily=-1)


def test_naive_times_and_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="item rp-1 must be timezone-aware"):
        Item("rp-1", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        plan_retention([], RetentionRules(), datetime(2026, 1, 1), client_active=True)
    twice = [Item("rp-1", NOW), Item("rp-1", NOW - timedelta(days=1))]
    with pytest.raises(ValueError, match="unique"):
        plan_retention(twice, RetentionRules(), NOW, client_active=True)


def test_the_newest_complete_point_names_its_guard() -> None:
    """Count rules always keep the newest candidate, so the guard only names itself when
    no count is set; it is still the reason an auditor should read for that point."""
    points = [
        Item("rp-new", NOW - timedelta(days=1)),
        Item("rp-pending", NOW - timedelta(hours=1), complete=False),
        Item("rp-old", NOW - timedelta(days=2)),
    ]
    rules = RetentionRules(max_age=timedelta(days=35))
    active = plan_retention(points, rules, NOW, client_active=True)
    assert [d.reason.rule for d in active] == ["newest_complete", "incomplete", "no_count_rules"]
    inactive = plan_retention(points, rules, NOW, client_active=False)
    assert inactive[0].reason.rule == "no_count_rules"


def test_max_age_wins_over_the_newest_point_guard() -> None:
    """The order form's deadline is a promise: a client whose backups stopped 40 days ago
    has nothing left under a 35d max_age (the scheduler alarms on it, retention does not)."""
    points = [Item("rp-last", NOW - timedelta(days=40))]
    rules = RetentionRules(max_age=timedelta(days=35), keep=KeepCounts(last=3))
    (decision,) = plan_retention(points, rules, NOW, client_active=True)
    assert (decision.action, decision.reason.rule) == ("expire", "max_age")


def test_reason_texts() -> None:
    assert Reason("keep.last", counter="2/3").text == "keep.last (2/3)"
    assert Reason("keep.weekly", "2026-W47", "3/4").text == "keep.weekly 2026-W47 (3/4)"
    assert Reason("legal_hold", detail="case-7").text == "legal_hold: case-7"
    assert Reason("newest_complete").text == "newest complete point of an active client"


def test_buckets_are_utc_whatever_zone_the_time_comes_in() -> None:
    """01:30 in Paris (UTC+1 in November) is the previous UTC day."""
    paris = timezone(timedelta(hours=1))
    point = Item("rp-1", datetime(2026, 11, 24, 0, 30, tzinfo=paris))
    assert point.created_at == datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    rules = RetentionRules(keep=KeepCounts(daily=1))
    (decision,) = plan_retention([point], rules, NOW, client_active=False)
    assert decision.reason.text == "keep.daily 2026-11-23 (1/1)"
