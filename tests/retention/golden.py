"""Golden files of retention decisions: one JSON file per case, one decision per line.

A golden file pins what the planner decides and why, so a change of behaviour shows up as
a readable diff in review. Regenerate after a deliberate change with
``RETENTION_GOLDEN_UPDATE=1 .venv/bin/pytest tests/retention`` and read the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from retention_pipeline.domain.retention import Decision

GOLDEN = Path(__file__).parent / "golden"


def render(decisions: Sequence[Decision]) -> str:
    """The file's text: a JSON list, one ``[id, action, reason]`` per line."""
    lines = [json.dumps([d.item_id, d.action, d.reason.text]) for d in decisions]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def check_golden(name: str, decisions: Sequence[Decision]) -> None:
    """Compare with ``golden/<name>.json`` (or write it when updating goldens)."""
    path = GOLDEN / f"{name}.json"
    text = render(decisions)
    if os.environ.get("RETENTION_GOLDEN_UPDATE") == "1":
        path.write_text(text, encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(text) == expected, f"decisions differ from {path.name}"
