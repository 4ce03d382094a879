"""Retention decisions pinned by golden files (restic's forget tests are the model).

Each case builds its points in code, plans them at a fixed ``now`` and compares every
decision and its one-line reason with ``golden/<case>.json``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import yaml

from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.domain.retention import (
    Item,
    KeepCounts,
    RetentionRules,
    plan_retention,
    policy_hold,
    rules_for_archives,
    rules_for_backups,
)
from tests.policy.examples import GOOD_POLICY
from tests.retention.golden import check_golden

# A Tuesday: ISO week 2026-W48 runs from Monday 23 to Sunday 29 November.
LAST_POINT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
NOW = LAST_POINT + timedelta(hours=10)


def daily_points(count: int, last: datetime, prefix: str = "rp") -> list[Item]:
    """One point a day at ``last``'s time of day, newest first, ids by age in days."""
    return [Item(f"{prefix}-{age:04d}", last - timedelta(days=age)) for age in range(count)]


def kept(decisions: list) -> list:
    return [d for d in decisions if d.action == "keep"]


def test_800_daily_points_keep_exactly_21() -> None:
    """Each rule sees every point (restic), so their picks overlap.

    800 daily points run from 2024-09-16 to 2026-11-24 (Tue):
    - daily 7 keeps 18..24 Nov                                       -> 7
    - weekly 4 keeps the newest of W48, W47, W46, W45: 24 Nov and 22 Nov (Sun) are
      already kept by daily, 15 Nov and 8 Nov are new                -> 2
    - monthly 12 keeps the last day of each month, 2026-11 (24 Nov, kept) back to
      2025-12 (31 Dec): 11 new                                       -> 11
    - yearly 3 keeps 2026 (24 Nov, kept), 2025 (31 Dec, kept by monthly), 2024 (31 Dec)
      -> 1; the count is then used up, so the oldest point (2024-09-16) is not kept.
    7 + 2 + 11 + 1 = 21.
    """
    rules = RetentionRules(keep=KeepCounts(daily=7, weekly=4, monthly=12, yearly=3))
    decisions = plan_retention(daily_points(800, LAST_POINT), rules, NOW, client_active=True)
    survivors = kept(decisions)
    assert len(survivors) == 21
    assert Counter(d.reason.rule for d in survivors) == {
        "keep.daily": 7,
        "keep.weekly": 2,
        "keep.monthly": 11,
        "keep.yearly": 1,
    }
    check_golden("restic_800_daily", decisions)


def test_a_pause_does_not_shrink_daily_history() -> None:
    """daily 14 counts days that have a point, not calendar days: after 20 days without
    backups and 3 new ones, it keeps the 3 new points and the 11 newest before the pause."""
    before = daily_points(40, datetime(2026, 10, 31, 2, tzinfo=UTC), prefix="old")
    after = daily_points(3, datetime(2026, 11, 23, 2, tzinfo=UTC), prefix="new")
    rules = RetentionRules(keep=KeepCounts(daily=14))
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    decisions = plan_retention(before + after, rules, now, client_active=True)
    survivors = [d.item_id for d in kept(decisions)]
    assert len(survivors) == 14
    assert survivors[:11] == [f"old-{age:04d}" for age in range(11)]
    assert survivors[11:] == ["new-0000", "new-0001", "new-0002"]
    check_golden("pause_daily_14", decisions)


def test_the_oldest_point_is_kept_while_a_count_is_not_met() -> None:
    """Two points a day for three days, daily 7: three daily picks, plus the oldest."""
    items = [
        Item(f"rp-{day}-{hour:02d}", datetime(2026, 11, day, hour, tzinfo=UTC))
        for day in (20, 21, 22)
        for hour in (1, 13)
    ]
    rules = RetentionRules(keep=KeepCounts(daily=7))
    now = datetime(2026, 11, 23, tzinfo=UTC)
    decisions = {d.item_id: d for d in plan_retention(items, rules, now, client_active=False)}
    assert sorted(i for i, d in decisions.items() if d.action == "keep") == [
        "rp-20-01",
        "rp-20-13",
        "rp-21-13",
        "rp-22-13",
    ]
    assert decisions["rp-20-01"].reason.text == (
        "keep.daily 2026-11-20 (oldest point, count not met: 4/7)"
    )
    check_golden("oldest_kept", list(decisions.values()))


def test_order_form_rules_with_protections() -> None:
    """The §5 order form (max 35d, min 7d, last 3, daily 7, weekly 4, monthly 6) over 60
    daily points, one of them held, one locked, one incomplete, one dated in the future."""
    rules = rules_for_backups(ClientPolicy.from_document(yaml.safe_load(GOOD_POLICY)))
    items = daily_points(60, LAST_POINT)
    items[20] = Item("rp-0020", items[20].created_at, held="case-2026-17")
    items[45] = Item("rp-0045", items[45].created_at, locked_until=datetime(2027, 1, 1, tzinfo=UTC))
    items[2] = Item("rp-0002", items[2].created_at, complete=False)
    items.append(Item("rp-future", NOW + timedelta(days=2)))
    decisions = plan_retention(items, rules, NOW, client_active=True)
    texts = {d.item_id: d.reason.text for d in decisions}
    assert texts["rp-0020"] == "legal_hold: case-2026-17"
    assert texts["rp-0045"] == "locked until 2027-01-01"
    assert texts["rp-0002"] == "not complete (cleanup handles it)"
    assert texts["rp-future"] == "dated in the future (created 2026-11-26T12:00:00Z)"
    assert texts["rp-0040"] == "max_age exceeded (created 2026-10-15T02:00:00Z, max 35d)"
    check_golden("order_form_protections", decisions)


def test_archive_copies_live_until_max_age_under_their_lock() -> None:
    """Archives have bounds and a lock, no keep counts: every copy is kept until 10y."""
    policy = ClientPolicy.from_document(yaml.safe_load(GOOD_POLICY))
    rules = rules_for_archives(policy)
    lock = timedelta(days=policy.archive.lock.days if policy.archive.lock else 0)
    items = [
        Item(f"ac-{year}", created, kind="archive_copy", locked_until=created + lock)
        for year in range(2014, 2027)
        for created in [datetime(year, 1, 1, 3, tzinfo=UTC)]
    ]
    items.append(Item("ac-unlocked", datetime(2020, 6, 1, tzinfo=UTC), kind="archive_copy"))
    decisions = plan_retention(items, rules, NOW, client_active=True)
    texts = {d.item_id: d.reason.text for d in decisions}
    # 10y is 3650 days: the 2016 copy reached it on 2025-12-29, its lock with it.
    expired = [d.item_id for d in decisions if d.action == "expire"]
    assert expired == ["ac-2014", "ac-2015", "ac-2016"]
    assert texts["ac-2016"] == "max_age exceeded (created 2016-01-01T03:00:00Z, max 10y)"
    assert texts["ac-2017"] == "locked until 2026-12-30T03:00:00Z"
    assert texts["ac-unlocked"] == "no keep count set: kept until max_age"
    check_golden("archive_copies", decisions)


def test_a_policy_legal_hold_keeps_everything_without_its_free_text() -> None:
    document = yaml.safe_load(GOOD_POLICY)
    document["legal_hold"] = {"active": True, "reason": "Litigation with Jane Doe"}
    policy = ClientPolicy.from_document(document)
    hold = policy_hold(policy)
    items = [Item(i.id, i.created_at, held=hold) for i in daily_points(400, LAST_POINT)]
    decisions = plan_retention(items, rules_for_backups(policy), NOW, client_active=False)
    assert {d.reason.text for d in decisions} == {"legal_hold: client-policy"}
    assert all(d.action == "keep" for d in decisions)
