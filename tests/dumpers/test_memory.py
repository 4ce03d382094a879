"""Dumping streams: memory does not grow with the table (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.crm import connect, create_crm_schema, fill_crm
from tests.support.services import scratch_mariadb_database

LIMIT_KIB = 64 * 1024
_PROBE = """
import json, resource, sys
from retention_pipeline.adapters.dumpers import open_dumper
from retention_pipeline.ports.source import TableDigest

with open_dumper(sys.argv[1]) as dumper:
    table = dumper.schema().table("contacts")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digest = TableDigest(table.name, dumper.dump_table(table), dumper.data_format)
    largest = max(len(chunk) for chunk in digest)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kib": after - before, "bytes": digest.size,
                  "rows": digest.result().rows, "largest_chunk": largest}))
"""


@pytest.mark.slow
@pytest.mark.postgres
def test_dumping_200k_contacts_keeps_peak_memory_flat(postgres_url: str) -> None:
    create_crm_schema(postgres_url)
    fill_crm(postgres_url, contacts=200_000, seed=11, activities=0)

    result = subprocess.run(
        [sys.executable, "-c", _PROBE, postgres_url],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    probe = json.loads(result.stdout)

    assert probe["rows"] == 200_000
    assert probe["bytes"] > 1.5 * LIMIT_KIB * 1024, "the table must outgrow the limit"
    assert probe["largest_chunk"] <= 1024 * 1024
    assert probe["growth_kib"] < LIMIT_KIB, probe


_ROUND_TRIP_PROBE = """
import json, resource, sys
from retention_pipeline.adapters.dumpers import open_dumper, open_loader
from retention_pipeline.ports.source import TableDigest

source, target = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open_dumper(source) as dumper:
    snapshot = dumper.schema()
    table = snapshot.table("scans")
    digest = TableDigest(table.name, dumper.dump_table(table), dumper.data_format)
    with open_loader(target) as loader:
        loader.create_schema(snapshot, phase="tables")
        loader.load_table(table, digest)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kib": after - before, "bytes": digest.size,
                  "rows": digest.result().rows}))
"""


def _attachments_round_trip(source: str, target: str, rows: int) -> dict[str, int]:
    """Dump a table of 1 MB attachments straight into a loader, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _ROUND_TRIP_PROBE, source, target],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    probe: dict[str, int] = json.loads(result.stdout)
    assert probe["rows"] == rows
    assert probe["bytes"] > 3 * LIMIT_KIB * 1024, "the table must outgrow the limit"
    return probe


@pytest.mark.slow
@pytest.mark.mariadb
def test_mariadb_attachments_stream_through_dump_and_load_in_bounded_memory() -> None:
    """Batches of 1000 rows of 1 MB attachments would hold gigabytes at once."""
    with scratch_mariadb_database() as source, scratch_mariadb_database() as target:
        with connect(source) as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE scans (id INT PRIMARY KEY, body LONGBLOB)")
            cur.execute("INSERT INTO scans SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_150")
            cur.execute("UPDATE scans SET body = REPEAT(body, 1024)")
        probe = _attachments_round_trip(source, target, 150)
    assert probe["growth_kib"] < LIMIT_KIB, probe


@pytest.mark.slow
def test_sqlite_attachments_stream_through_dump_and_load_in_bounded_memory(
    tmp_path: Path,
) -> None:
    source, target = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    with connect(source) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE scans (id INTEGER PRIMARY KEY, body BLOB)")
        cur.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150) "
            "INSERT INTO scans SELECT i, randomblob(1048576) FROM n"
        )
    probe = _attachments_round_trip(source, target, 150)
    assert probe["growth_kib"] < LIMIT_KIB, probe
