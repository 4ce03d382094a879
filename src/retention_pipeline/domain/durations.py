"""Durations as the order form writes them: ``35d``, ``12h``, ``10y``.

Rules this module enforces:

- one whole, non-negative number immediately followed by one lower-case unit letter;
- units are ``h`` (hour), ``d`` (day, 24 h), ``w`` (week, 7 d) and ``y`` (year, exactly
  365 days: retention is counted in fixed days so that "10y" means the same number of
  seconds whatever leap years it spans, and auditors can recompute every deadline);
- nothing else parses: no spaces, no fractions, no signs, no bare numbers, no ``D``.

A strict grammar is deliberate: "35" or "3.5d" in a contract annex is ambiguous, and a
retention period read the wrong way is a compliance breach, not a style problem.
"""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_FORM = "use a number and one unit of h, d, w, y, like 35d (y is 365 days)"
"""The hint every caller shows when a duration does not parse."""

_UNITS: dict[str, timedelta] = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
_GRAMMAR = re.compile(r"([0-9]{1,9})([hdwy])")


def parse_duration(text: str) -> timedelta:
    """Parse ``<int><unit>`` (``h``, ``d``, ``w``, ``y`` = 365 days) into a timedelta.

    Raises ``ValueError`` naming the accepted form for anything else, so the message can
    go straight to the person editing the policy.
    """
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration; {DURATION_FORM}")
    count, unit = match.groups()
    try:
        return int(count) * _UNITS[unit]
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration; {DURATION_FORM}") from None


def format_duration(duration: timedelta) -> str:
    """Write a duration back in the ``35d`` form so that it parses to the same value.

    The largest unit that divides it exactly is used among ``y``, ``d``, ``h`` (weeks are
    not produced: ``14d`` written by a person stays ``14d`` instead of becoming ``2w``).
    Raises ``ValueError`` for negative durations or ones that are not whole hours.
    """
    if duration < timedelta(0):
        raise ValueError("a duration cannot be negative")
    for unit in ("y", "d", "h"):
        count, rest = divmod(duration, _UNITS[unit])
        if not rest and (count or unit == "h"):
            return f"{count}{unit}"
    raise ValueError("a duration must be a whole number of hours")
