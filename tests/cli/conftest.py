"""A configured home with two stores and the demo's three order forms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retention_pipeline.cli.main import main

DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.fixture
def home(tmp_home: Path) -> Path:
    """A home folder as ``init`` plus an operator would leave it."""
    assert main(["init", "--home", str(tmp_home / "h")]) == 0
    h = tmp_home / "h"
    shutil.copy(DEMO / "retention.yaml", h / "retention.yaml")
    for policy in DEMO.glob("policies/*.yaml"):
        shutil.copy(policy, h / "policies" / policy.name)
    return h
