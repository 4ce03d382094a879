"""Hypothesis strategies: random series of points and retention rules.

Times are drawn on a coarse grid (whole minutes over about three years) so that equal
creation times, same-bucket neighbours and ISO week/year boundaries all occur often.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from retention_pipeline.domain.retention import Item, KeepCounts, RetentionRules

BASE = datetime(2024, 12, 20, tzinfo=UTC)
NOW = BASE + timedelta(days=800)
SPAN_MINUTES = 900 * 24 * 60  # a little past NOW, so some points lie in the future

minutes = st.one_of(
    st.integers(0, SPAN_MINUTES),
    st.sampled_from([0, 60, 1440, 1441, 10080, 800 * 1440, 800 * 1440 + 5]),
)


@st.composite
def items(draw: st.DrawFn, prefix: str = "rp") -> list[Item]:
    """A series of points with unique ids; most are complete and unprotected."""
    count = draw(st.integers(0, 40))
    result = []
    for index in range(count):
        created = BASE + timedelta(minutes=draw(minutes))
        lock_days = draw(st.one_of(st.none(), st.integers(-400, 400)))
        result.append(
            Item(
                id=f"{prefix}-{draw(st.integers(0, 10**6)):07d}-{index}",
                created_at=created,
                kind=draw(st.sampled_from(["recovery_point"] * 5 + ["archive_copy"])),
                complete=draw(st.integers(0, 9)) > 0,
                held=draw(st.sampled_from([None] * 12 + ["case-1"])),
                locked_until=None if lock_days is None else NOW + timedelta(days=lock_days),
            )
        )
    return result


@st.composite
def rules(draw: st.DrawFn) -> RetentionRules:
    """Bounds in hours (min_age never above max_age) and small keep counts."""
    max_hours = draw(st.one_of(st.none(), st.integers(1, 24 * 900)))
    min_hours = draw(st.integers(0, max_hours if max_hours is not None else 24 * 60))
    count = st.integers(0, 6)
    keep = KeepCounts(*(draw(count) for _ in range(6)))
    return RetentionRules(
        max_age=None if max_hours is None else timedelta(hours=max_hours),
        min_age=timedelta(hours=min_hours),
        keep=keep,
    )
