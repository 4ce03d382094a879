"""The audit's integration tests reuse the lifecycle home (SQLite source, folder stores)."""

from __future__ import annotations

from tests.lifecycle.conftest import backup_at, home

__all__ = ["backup_at", "home"]
