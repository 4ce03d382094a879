"""The HTML page: matrix, four charts, full evidence; self-contained, escaped, no names."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from retention_pipeline.services.report import write
from retention_pipeline.services.report_html import render
from tests.audit.snapshots import CLIENT
from tests.report.sample import CANARY, OTHER, sample_report

CHART_IDS = ("chart-backup-age", "chart-storage", "chart-retention", "chart-erasure")


def page(tmp_path: Path) -> str:
    return write(sample_report(), "html", tmp_path / "audit.html").read_text()


def test_the_page_has_the_summary_matrix_charts_and_evidence(tmp_path: Path) -> None:
    html = page(tmp_path)
    assert "Generated at" in html and "2026-06-15T12:00:00+00:00" in html
    assert "compliant: 10" in html and "non-compliant: 0" in html and "n/a: 9" in html
    matrix = re.search(r'<table id="compliance-matrix">.*?</table>', html, re.S)
    assert matrix is not None
    for control in (f"C{n}" for n in range(1, 11)):
        assert f">{control}</th>" in matrix.group()
    for client in (CLIENT, OTHER, "installation (*)"):
        assert f'<th scope="row">{client}</th>' in matrix.group()
    # The verdict is written in each cell, not only shown by its colour.
    assert '<td class="v compliant">compliant</td>' in matrix.group()
    assert '<td class="v not_applicable">n/a</td>' in matrix.group()
    assert html.count("<svg") == 4
    for chart in CHART_IDS:
        assert f'<figure id="{chart}">' in html
    assert "&quot;schedule&quot;: &quot;0 2 * * *&quot;" in html  # evidence, escaped


def test_the_page_is_self_contained_and_names_nobody(tmp_path: Path) -> None:
    html = page(tmp_path)
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert CANARY not in html


def test_values_are_escaped() -> None:
    report = sample_report()
    results = report.results.copy()
    results["evidence"] = [{"reason": "<img src=x onerror=alert(1)>"}] * len(results)
    hostile = replace(report, results=results)
    html = render(hostile)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_report_with_nothing_stored_still_draws_its_charts() -> None:
    report = sample_report(client=OTHER)
    empty = replace(report, storage=report.storage.iloc[0:0], clients=pd.DataFrame(
        columns=report.clients.columns))  # fmt: skip
    html = render(empty)
    assert html.count("<svg") == 4
    assert html.count("nothing to show") == 4
