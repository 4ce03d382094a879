"""The layering of shared/DESIGN.md, ruff and mypy, enforced by the test suite.

These run in CI with every other test, so a change that breaks a layer boundary or the
linters cannot land.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "retention_pipeline"
BIN = Path(sys.executable).parent

# What each layer may not import (third-party I/O libraries, or outer layers).
IO_LIBRARIES = ("boto3", "botocore", "sqlalchemy", "alembic", "psycopg", "pymysql", "sqlite3")
FORBIDDEN = {
    "domain": (
        *IO_LIBRARIES,
        "requests",
        "retention_pipeline.adapters",
        "retention_pipeline.services",
        "retention_pipeline.cli",
        "retention_pipeline.bootstrap",
        "airflow",
    ),
    "envelope": (
        *IO_LIBRARIES,
        "retention_pipeline.adapters",
        "retention_pipeline.services",
        "retention_pipeline.cli",
        "retention_pipeline.bootstrap",
        "airflow",
    ),
    "ports": (
        *IO_LIBRARIES,
        "retention_pipeline.adapters",
        "retention_pipeline.services",
        "retention_pipeline.cli",
        "airflow",
    ),
    "services": (*IO_LIBRARIES, "retention_pipeline.adapters", "retention_pipeline.cli"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_inward(layer: str) -> None:
    offences = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imported_modules(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "src", "tests", "dags", "plugins", "benchmarks", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
