"""What the planner guarantees whatever the points and rules (hypothesis properties)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from retention_pipeline.domain.retention import Item, RetentionRules, plan_retention
from tests.retention.strategies import NOW, items, rules

PROTECTED = {"legal_hold", "locked", "future", "incomplete"}
COUNT_RULE_EXPIRY = "no_rule_matched"
SETTINGS = settings(max_examples=200, deadline=None)


def plan(points: list[Item], chosen: RetentionRules, active: bool = True) -> dict:
    return {d.item_id: d for d in plan_retention(points, chosen, NOW, client_active=active)}


@SETTINGS
@given(items(), rules(), st.booleans())
def test_one_decision_per_item_in_input_order(
    points: list[Item], chosen: RetentionRules, active: bool
) -> None:
    decisions = plan_retention(points, chosen, NOW, client_active=active)
    assert [d.item_id for d in decisions] == [p.id for p in points]


@SETTINGS
@given(items(), rules())
def test_max_age_is_never_exceeded(points: list[Item], chosen: RetentionRules) -> None:
    """Nothing at least max_age old is kept unless held, locked, future or incomplete."""
    decisions = plan(points, chosen)
    for point in points:
        if chosen.max_age is not None and NOW - point.created_at >= chosen.max_age:
            decision = decisions[point.id]
            assert decision.action == "expire" or decision.reason.rule in PROTECTED


@SETTINGS
@given(items(), rules(), st.booleans())
def test_min_age_is_never_undercut(
    points: list[Item], chosen: RetentionRules, active: bool
) -> None:
    decisions = plan(points, chosen, active)
    for point in points:
        if NOW - point.created_at < chosen.min_age:
            assert decisions[point.id].action == "keep"


@SETTINGS
@given(items(), rules())
def test_points_dated_in_the_future_are_never_expired(
    points: list[Item], chosen: RetentionRules
) -> None:
    decisions = plan(points, chosen)
    assert all(decisions[p.id].action == "keep" for p in points if p.created_at > NOW)


@SETTINGS
@given(items(), rules())
def test_count_rules_never_expire_the_newest_complete_point_of_an_active_client(
    points: list[Item], chosen: RetentionRules
) -> None:
    """Only max_age (a hard bound of the order form) may expire it."""
    decisions = plan(points, chosen)
    complete = [
        p for p in points if p.kind == "recovery_point" and p.complete and p.created_at <= NOW
    ]
    if complete:
        newest = max(complete, key=lambda p: (p.created_at, p.id))
        decision = decisions[newest.id]
        assert decision.action == "keep" or decision.reason.rule == "max_age"
        assert decision.reason.rule != COUNT_RULE_EXPIRY


@SETTINGS
@given(items(), rules(), st.booleans())
def test_planning_again_over_the_kept_items_expires_nothing(
    points: list[Item], chosen: RetentionRules, active: bool
) -> None:
    first = plan(points, chosen, active)
    survivors = [p for p in points if first[p.id].action == "keep"]
    second = plan(survivors, chosen, active)
    assert [d.item_id for d in second.values() if d.action == "expire"] == []


@SETTINGS
@given(items(), rules(), st.booleans(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(
    points: list[Item], chosen: RetentionRules, active: bool, shuffler: random.Random
) -> None:
    shuffled = list(points)
    shuffler.shuffle(shuffled)
    assert plan(points, chosen, active) == plan(shuffled, chosen, active)


@SETTINGS
@given(items(), rules())
def test_every_reason_renders_on_one_line(points: list[Item], chosen: RetentionRules) -> None:
    for decision in plan(points, chosen).values():
        text = decision.reason.text
        assert text
        assert "\n" not in text
