"""Durations and schedules read exactly as the order form means them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.domain.durations import format_duration, parse_duration
from retention_pipeline.domain.schedule import (
    archive_period_start,
    next_fire,
    previous_fire,
    validate_cron,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35d", timedelta(days=35)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("10y", timedelta(days=3650)),
        ("0h", timedelta(0)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["35 days", "35", "-3d", "3.5d", "35D", "d", "", " 35d", "3d4h"])
def test_other_forms_are_refused_with_the_accepted_form(text: str) -> None:
    with pytest.raises(ValueError, match="use a number and one unit of h, d, w, y, like 35d"):
        parse_duration(text)


def test_format_writes_the_form_a_person_would() -> None:
    assert [format_duration(parse_duration(t)) for t in ("35d", "7d", "24h", "365d", "2w")] == [
        "35d", "7d", "1d", "1y", "14d",
    ]  # fmt: skip


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from("hdwy"))
def test_parse_format_round_trip(count: int, unit: str) -> None:
    duration = parse_duration(f"{count}{unit}")
    assert parse_duration(format_duration(duration)) == duration


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10**6)))
def test_format_refuses_what_it_cannot_write_back(duration: timedelta) -> None:
    try:
        text = format_duration(duration)
    except ValueError:
        assert duration % timedelta(hours=1)
    else:
        assert parse_duration(text) == duration


@pytest.mark.parametrize(
    "expr", ["0 2 * *", "0 0 2 * * *", "61 2 * * *", "x y z a b", "0 2 30 2 *"]
)
def test_invalid_cron_says_what_to_write(expr: str) -> None:
    with pytest.raises(ValueError, match='use 5 fields "minute hour'):
        validate_cron(expr)


NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # a Wednesday, exactly at a nightly fire


def test_previous_fire_includes_now_and_next_fire_is_after_it() -> None:
    assert previous_fire("0 2 * * *", NOW) == NOW
    assert next_fire("0 2 * * *", NOW) == NOW + timedelta(days=1)
    just_before = NOW - timedelta(microseconds=1)
    assert previous_fire("0 2 * * *", just_before) == NOW - timedelta(days=1)
    assert next_fire("0 2 * * *", just_before) == NOW


def test_fire_times_are_utc_whatever_zone_now_is_given_in() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    fire = previous_fire("0 2 * * *", paris)
    assert fire == NOW and fire.utcoffset() == timedelta(0)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire("0 2 * * *", datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("every", "start"),
    [
        ("daily", datetime(2026, 3, 4, tzinfo=UTC)),
        ("weekly", datetime(2026, 3, 2, tzinfo=UTC)),  # ISO weeks start on Monday
        ("monthly", datetime(2026, 3, 1, tzinfo=UTC)),
        ("yearly", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_archive_period_start(every: str, start: datetime) -> None:
    assert archive_period_start(every, NOW + timedelta(hours=20)) == start  # type: ignore[arg-type]
