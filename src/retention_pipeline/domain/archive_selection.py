"""Which recovery points become archive copies: one per period of ``archive.every``.

Rules:
* only complete recovery points are candidates;
* a period (UTC day, ISO week from Monday, month or year) that already has an archive
  copy needs nothing more;
* otherwise the period's *earliest* complete point is archived: once chosen it stays
  chosen, so later backups in the same period never cause a second copy, and a rerun
  selects nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from retention_pipeline.domain.schedule import ArchiveEvery, archive_period_start


@dataclass(frozen=True)
class Candidate:
    """A complete recovery point that could be archived."""

    recovery_point_id: str
    created_at: datetime


def select_for_archive(
    candidates: Iterable[Candidate],
    archived: Iterable[datetime],
    every: ArchiveEvery,
    now: datetime,
) -> list[str]:
    """Ids of the points to archive now, oldest first.

    ``archived`` holds the creation times of the recovery points that already have an
    archive copy; points created after ``now`` are ignored (clock skew never archives
    the future).
    """
    done = {archive_period_start(every, at) for at in archived}
    chosen: dict[datetime, Candidate] = {}
    for point in sorted(candidates, key=lambda c: (c.created_at, c.recovery_point_id)):
        if point.created_at > now:
            continue
        period = archive_period_start(every, point.created_at)
        if period not in done and period not in chosen:
            chosen[period] = point
    return [c.recovery_point_id for c in sorted(chosen.values(), key=lambda c: c.created_at)]
