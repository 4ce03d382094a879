"""The vectorised planner makes exactly the per-item planner's decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retention_pipeline.domain.buckets import RULE_ORDER, bucket_key, to_micros
from retention_pipeline.domain.retention import (
    Item,
    KeepCounts,
    RetentionRules,
    plan_retention,
)
from retention_pipeline.domain.retention_frame import (
    FRAME_COLUMNS,
    _bucket_keys,
    plan_retention_frame,
)
from tests.retention.strategies import NOW, items, rules

NaT = pd.NaT


def frame_of(series: dict[str, tuple[list[Item], bool]]) -> pd.DataFrame:
    """The table the catalog adapter would build, from per-client items."""
    rows = [
        {
            "client": client,
            "id": item.id,
            "kind": item.kind,
            "created_at": item.created_at,
            "complete": item.complete,
            "held": item.held,
            "locked_until": item.locked_until if item.locked_until is not None else NaT,
            "client_active": active,
        }
        for client, (points, active) in series.items()
        for item in points
    ]
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for column in ("created_at", "locked_until"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def per_item(series: dict, rules_by_client: dict) -> list[tuple]:
    expected = []
    for client, (points, active) in series.items():
        for d in plan_retention(points, rules_by_client[client], NOW, client_active=active):
            r = d.reason
            expected.append((d.item_id, d.action, r.rule, r.bucket, r.counter, r.oldest))
    return expected


def vectorised(frame: pd.DataFrame, rules_by_client: dict) -> list[tuple]:
    out = plan_retention_frame(frame, rules_by_client, NOW)
    columns = ["id", "action", "rule", "bucket", "counter", "oldest"]
    return [tuple(row) for row in out[columns].astype(object).itertuples(index=False)]


@st.composite
def clients(draw: st.DrawFn) -> tuple[dict, dict]:
    count = draw(st.integers(1, 4))
    series = {
        f"client-{n}": (draw(items(prefix=f"c{n}")), draw(st.booleans())) for n in range(count)
    }
    return series, {client: draw(rules()) for client in series}


@settings(max_examples=200, deadline=None)
@given(clients())
def test_the_frame_planner_decides_like_the_per_item_planner(case: tuple[dict, dict]) -> None:
    series, rules_by_client = case
    frame = frame_of(series)
    # Shuffle rows: the frame must not rely on the input order either.
    shuffled = frame.sample(frac=1.0, random_state=7)
    expected = sorted(per_item(series, rules_by_client), key=lambda row: row[0])
    assert sorted(vectorised(shuffled, rules_by_client), key=lambda row: row[0]) == expected


@given(st.integers(-(10**15), 4 * 10**15))
def test_numpy_buckets_equal_python_buckets(micros: int) -> None:
    column = np.asarray([micros], dtype=np.int64)
    for rule in RULE_ORDER[1:]:
        assert int(_bucket_keys(rule, column)[0]) == bucket_key(rule, micros)


def test_iso_weeks_cross_the_new_year() -> None:
    """2026-12-31 (Thu) and 2027-01-03 (Sun) share ISO week 2026-W53."""
    points = [
        Item("a", datetime(2027, 1, 3, 23, tzinfo=UTC)),
        Item("b", datetime(2026, 12, 31, 1, tzinfo=UTC)),
        Item("c", datetime(2026, 12, 27, 1, tzinfo=UTC)),
    ]
    chosen = RetentionRules(keep=KeepCounts(weekly=2))
    now = datetime(2027, 1, 4, tzinfo=UTC)
    decisions = plan_retention(points, chosen, now, client_active=False)
    assert [d.reason.text for d in decisions] == [
        "keep.weekly 2026-W53 (1/2)",
        "no keep rule matched",
        "keep.weekly 2026-W52 (2/2)",
    ]
    assert bucket_key("weekly", to_micros(points[0].created_at)) == bucket_key(
        "weekly", to_micros(points[1].created_at)
    )


def test_an_empty_frame_plans_nothing() -> None:
    out = plan_retention_frame(frame_of({}), {}, NOW)
    assert len(out) == 0
    assert list(out.columns) == ["client", "id", "action", "rule", "bucket", "counter", "oldest"]


def test_a_client_without_rules_is_named() -> None:
    frame = frame_of({"acme-sas": ([Item("rp-1", NOW - timedelta(days=1))], True)})
    with pytest.raises(ValueError, match="no retention rules for client acme-sas"):
        plan_retention_frame(frame, {}, NOW)


def test_a_missing_column_is_named() -> None:
    frame = frame_of({"acme-sas": ([Item("rp-1", NOW - timedelta(days=1))], True)})
    with pytest.raises(ValueError, match="lacks column held"):
        plan_retention_frame(frame.drop(columns=["held"]), {"acme-sas": RetentionRules()}, NOW)


def test_naive_times_are_refused() -> None:
    frame = frame_of({"acme-sas": ([Item("rp-1", NOW - timedelta(days=1))], True)})
    frame["created_at"] = frame["created_at"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="created_at must hold timezone-aware"):
        plan_retention_frame(frame, {"acme-sas": RetentionRules()}, NOW)


def test_a_time_span_too_wide_for_one_sort_key_gives_the_same_decisions() -> None:
    """Years 1 and 9000 in one table need the two-key sort; decisions stay identical."""
    now = datetime(9000, 1, 1, tzinfo=UTC)
    series = {
        f"client-{n:02d}": (
            [
                Item(f"c{n}-old", datetime(1, 1, 2, tzinfo=UTC)),
                Item(f"c{n}-tie-a", datetime(8999, 6, 1, tzinfo=UTC)),
                Item(f"c{n}-tie-b", datetime(8999, 6, 1, tzinfo=UTC)),
                Item(f"c{n}-new", datetime(8999, 12, 31, tzinfo=UTC)),
            ],
            True,
        )
        for n in range(40)
    }
    chosen = RetentionRules(keep=KeepCounts(monthly=5))
    rules_by_client = dict.fromkeys(series, chosen)
    out = plan_retention_frame(frame_of(series), rules_by_client, now)
    expected = {
        d.item_id: (d.action, d.reason.rule, d.reason.oldest)
        for points, _ in series.values()
        for d in plan_retention(points, chosen, now, client_active=True)
    }
    got = {row.id: (row.action, row.rule, row.oldest) for row in out.itertuples()}
    assert got == expected
    assert got["c3-old"] == ("keep", "keep.monthly", False)
    assert got["c3-tie-b"] == ("keep", "keep.monthly", False)  # equal times: larger id first
    assert got["c3-tie-a"] == ("expire", "no_rule_matched", False)
