"""Dumping streams: memory does not grow with the table (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.crm import create_crm_schema, fill_crm

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
