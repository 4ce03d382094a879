"""When things are due: 5-field UTC cron schedules and archive periods.

Rules this module enforces:

- a schedule is a classic 5-field cron (minute hour day-of-month month day-of-week),
  read in UTC; 6-field (seconds) forms and ``@daily`` nicknames are refused so that every
  policy reads the same way in the catalog, in Airflow and in an audit;
- time is always a parameter: callers pass an aware ``now`` and get aware UTC back;
- ``previous_fire`` includes ``now`` itself (a run due exactly now is due), ``next_fire``
  is strictly after ``now``;
- archive periods are UTC buckets; ISO weeks start on Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from croniter import croniter

ArchiveEvery = Literal["daily", "weekly", "monthly", "yearly"]

CRON_FORM = 'use 5 fields "minute hour day-of-month month day-of-week" in UTC, like "0 2 * * *"'
"""The hint every caller shows when a schedule is refused."""

_MINUTE = timedelta(minutes=1)
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)


def validate_cron(expr: str) -> None:
    """Refuse anything but a valid 5-field cron expression, saying why."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"a schedule needs 5 fields, this one has {len(fields)}; {CRON_FORM}")
    try:
        croniter(expr)
    except (ValueError, KeyError) as error:
        # croniter's message quotes the expression and says which part is out of range.
        reason = str(error).split("]", 1)[-1].strip() or "not a cron expression"
        raise ValueError(f"not a valid schedule ({reason}); {CRON_FORM}") from None
    try:
        # A date that never exists ("0 2 30 2 *") is valid syntax but would never run.
        croniter(expr, _REFERENCE).get_next(datetime)
    except ValueError:
        raise ValueError(f"this schedule never fires; {CRON_FORM}") from None


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC); naive datetimes are ambiguous")
    return now.astimezone(UTC)


def previous_fire(expr: str, now: datetime) -> datetime:
    """The latest fire time at or before ``now`` (aware UTC)."""
    validate_cron(expr)
    # Fires fall on whole minutes, so "at or before now" equals "before the next minute".
    floor = _utc(now).replace(second=0, microsecond=0)
    fire: datetime = croniter(expr, floor + _MINUTE).get_prev(datetime)
    return fire.astimezone(UTC)


def next_fire(expr: str, now: datetime) -> datetime:
    """The earliest fire time strictly after ``now`` (aware UTC)."""
    validate_cron(expr)
    fire: datetime = croniter(expr, _utc(now)).get_next(datetime)
    return fire.astimezone(UTC)


def archive_period_start(every: ArchiveEvery, at: datetime) -> datetime:
    """Start (UTC midnight) of the archive period that contains ``at``.

    One archive copy is taken per period; two points in the same bucket compete for it.
    """
    day = _utc(at).replace(hour=0, minute=0, second=0, microsecond=0)
    if every == "daily":
        return day
    if every == "weekly":
        return day - timedelta(days=day.weekday())
    if every == "monthly":
        return day.replace(day=1)
    if every == "yearly":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown archive period {every!r}; use daily, weekly, monthly or yearly")
