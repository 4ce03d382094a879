"""CSV and JSON: one row per client and control, and the facts the charts draw."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from retention_pipeline.domain.controls import CONTROLS
from retention_pipeline.errors import NotFoundError
from retention_pipeline.services.report import write
from tests.audit.snapshots import CLIENT
from tests.report.sample import CANARY, OTHER, sample_report

# Two clients times the nine client controls, plus the installation's C9.
EXPECTED_PAIRS = {(c, k.id) for c in (CLIENT, OTHER) for k in CONTROLS if k.id != "C9"} | {
    ("*", "C9")
}


def test_csv_has_one_row_per_client_and_control(tmp_path: Path) -> None:
    path = write(sample_report(), "csv", tmp_path / "out" / "audit.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [*rows[0]] == ["client", "control", "title", "verdict", "evidence"]
    pairs = [(r["client"], r["control"]) for r in rows]
    assert len(pairs) == len(set(pairs)) and set(pairs) == EXPECTED_PAIRS
    c2 = next(r for r in rows if (r["client"], r["control"]) == (CLIENT, "C2"))
    assert c2["verdict"] == "compliant"
    assert json.loads(c2["evidence"])["schedule"] == "0 2 * * *"
    assert CANARY not in path.read_text()


def test_json_has_the_rows_the_summary_and_the_facts(tmp_path: Path) -> None:
    path = write(sample_report(), "json", tmp_path / "audit.json")
    text = path.read_text()
    data = json.loads(text)
    pairs = [(r["client"], r["control"]) for r in data["results"]]
    assert len(pairs) == len(set(pairs)) and set(pairs) == EXPECTED_PAIRS
    assert data["generated_at"] == "2026-06-15T12:00:00+00:00"
    assert sum(data["summary"].values()) == len(pairs)
    assert data["summary"]["non_compliant"] == 0
    acme = next(c for c in data["clients"] if c["client"] == CLIENT)
    assert acme["backup_age_hours"] == 10.0  # newest backup at 02:00, now 12:00
    assert acme["allowed_age_hours"] == 26.0  # a daily schedule plus two hours of grace
    assert acme["erasure_deadline"] == "2026-07-05T12:00:00+00:00"  # request + one month
    beta = next(c for c in data["clients"] if c["client"] == OTHER)
    assert beta["backup_age_hours"] is None  # nothing stored: null, never NaN
    assert beta["erasure_deadline"] == "2026-07-01T00:00:00+00:00"  # contract end + 30d
    assert data["storage"] == [
        {"location": "eu-west-3", "store": "archives", "objects": 2, "bytes": 200},
        {"location": "eu-west-3", "store": "backups", "objects": 31, "bytes": 3100},
    ]
    assert CANARY not in text


def test_one_client_keeps_the_installation_controls() -> None:
    report = sample_report(client=OTHER)
    assert set(report.results["client"]) == {OTHER, "*"}
    assert list(report.clients["client"]) == [OTHER]
    assert report.storage.empty  # beta-corp stores nothing


def test_an_unknown_client_is_named() -> None:
    with pytest.raises(NotFoundError, match="'nobody-here' is not in the catalog"):
        sample_report(client="nobody-here")
