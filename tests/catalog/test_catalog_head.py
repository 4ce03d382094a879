"""Opening an up-to-date catalog skips alembic, so the recorded head must be the real one.

``HEAD_REVISION`` lets every CLI command open a current catalog without importing alembic
(start-up time, benchmarks/README.md); if it lagged behind the migration files, a catalog
at an older revision would still be migrated (the fast path only answers "at head"), but
a current one would take the slow path on every open. These tests pin both behaviours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from retention_pipeline.adapters.catalog import downgrade_catalog, migration_head, open_catalog
from retention_pipeline.adapters.catalog.database import HEAD_REVISION


def test_the_recorded_head_is_the_newest_migration_file() -> None:
    assert migration_head() == HEAD_REVISION


def test_a_catalog_one_revision_behind_is_still_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/catalog.db"
    open_catalog(url).close()
    downgrade_catalog(url, f"{int(HEAD_REVISION) - 1:04d}")
    catalog = open_catalog(url)
    try:
        assert list(catalog.applied_revisions) == [HEAD_REVISION]
    finally:
        catalog.close()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert version == HEAD_REVISION


def test_opening_a_current_catalog_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/catalog.db"
    open_catalog(url).close()
    script = (
        "import sys\n"
        "from retention_pipeline.adapters.catalog import open_catalog\n"
        f"c = open_catalog({url!r})\n"
        "assert not c.applied_revisions, c.applied_revisions\n"
        "c.close()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    assert out.stdout.decode().strip() == "False"
