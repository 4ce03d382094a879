"""A real browser opens the report: headless Chromium renders it and dumps its DOM.

Debian's ``chromium`` package provides ``/usr/bin/chromium`` (``.ci/run`` installs it);
outside CI the test skips when it is absent, under ``CI=true`` it fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from retention_pipeline.services.report import write
from tests.report.sample import sample_report
from tests.support.services import in_ci

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing; install it with: apt-get install -y chromium"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip


def test_chromium_renders_the_report(tmp_path: Path) -> None:
    require_chromium()
    report = write(sample_report(), "html", tmp_path / "audit.html")
    png = tmp_path / "audit.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2000", report.as_uri())
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    # A blank page compresses to a few kilobytes; the matrix, charts and table do not.
    assert len(data) > 20_000
    assert len(set(data[len(data) // 2 : len(data) // 2 + 4096])) > 64

    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert '<table id="compliance-matrix">' in dom
    assert dom.count("<svg") == 4
    assert "Compliance report" in dom and '<table id="results">' in dom
