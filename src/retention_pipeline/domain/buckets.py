"""Time buckets of the keep rules: hour, day, ISO week, month and year, always in UTC.

Rules this module enforces:

- a bucket is an integer that only grows with time (restic's ``ymd``/``yw`` idea), so
  "same bucket as the previous point" is one integer comparison, in Python and in numpy;
- buckets are computed from microseconds since the Unix epoch in UTC, never from local
  time: a point made at 00:30 in Paris belongs to the previous UTC day, on every machine;
- weeks are ISO weeks (Monday to Sunday); the label names the ISO year, so 2026-12-31
  may be in ``2026-W53`` and 2027-01-01 too;
- the Python functions here and the numpy ones in ``retention_frame`` compute the same
  integers: the property tests compare the two planners, which would diverge otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

RuleName = Literal["last", "hourly", "daily", "weekly", "monthly", "yearly"]

RULE_ORDER: Final[tuple[RuleName, ...]] = (
    "last",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
)
"""Keep rules in the order restic evaluates them; the first that keeps a point names it."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROS_PER_HOUR: Final = 3_600_000_000
MICROS_PER_DAY: Final = 86_400_000_000
_MICRO = timedelta(microseconds=1)
# 1970-01-01 was a Thursday: shifting by 3 days makes Monday the first day of a week.
WEEK_SHIFT_DAYS: Final = 3


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch (UTC); the one time scale both planners compare on."""
    return (moment - EPOCH) // _MICRO


def _day(micros: int) -> int:
    return micros // MICROS_PER_DAY


def _civil(micros: int) -> date:
    return date(1970, 1, 1) + timedelta(days=_day(micros))


def _month(micros: int) -> int:
    civil = _civil(micros)
    return (civil.year - 1970) * 12 + civil.month - 1


_KEYS: Final[dict[RuleName, Callable[[int], int]]] = {
    "hourly": lambda micros: micros // MICROS_PER_HOUR,
    "daily": _day,
    "weekly": lambda micros: (_day(micros) + WEEK_SHIFT_DAYS) // 7,
    "monthly": _month,
    "yearly": lambda micros: _civil(micros).year,
}


def bucket_key(rule: RuleName, micros: int) -> int:
    """The bucket integer of a point for a calendar rule (not ``last``, which has none)."""
    return _KEYS[rule](micros)


def _hour_label(key: int) -> str:
    return f"{EPOCH + timedelta(hours=key):%Y-%m-%dT%H}"


def _day_label(key: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=key)).isoformat()


def _week_label(key: int) -> str:
    # The Thursday of the week decides its ISO year: day 7*key is that Thursday.
    thursday = date(1970, 1, 1) + timedelta(days=7 * key)
    iso = thursday.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def _month_label(key: int) -> str:
    year, month = divmod(key, 12)
    return f"{1970 + year:04d}-{month + 1:02d}"


_LABELS: Final[dict[RuleName, Callable[[int], str]]] = {
    "hourly": _hour_label,
    "daily": _day_label,
    "weekly": _week_label,
    "monthly": _month_label,
    "yearly": lambda key: f"{key:04d}",
}


def bucket_label(rule: RuleName, key: int) -> str:
    """How a bucket reads in a reason: ``2026-11-24T13``, ``2026-11-24``, ``2026-W47``,
    ``2026-11`` or ``2026``."""
    return _LABELS[rule](key)
