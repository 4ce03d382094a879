"""The report tests reuse the audit's hand-built snapshots and the lifecycle home."""

from __future__ import annotations

from tests.lifecycle.conftest import backup_at, home

__all__ = ["backup_at", "home"]
