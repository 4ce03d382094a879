"""Run Python code in a child process whose memory and CPU time are capped.

For tests of hostile input that, before the fix, would take all the machine's memory or
never end: under the caps the child fails (MemoryError, or killed at the CPU limit) and
the test fails with it, instead of the test run swapping or hanging. No wall-clock
assertion is made: CPU seconds are the limit, a loaded CI machine only runs slower.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import retention_pipeline

SOURCE = Path(retention_pipeline.__file__).resolve().parents[1]
ROOT = SOURCE.parent


def run_limited(
    code: str, *args: str, stdin: str = "", memory_mib: int = 1024, cpu_seconds: int = 60
) -> subprocess.CompletedProcess[str]:
    """``python -c code args...`` fed ``stdin``, with this checkout's package on the path."""

    def cap() -> None:
        limit = memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SOURCE), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=cap,  # limits are set in the child, before it runs Python
        check=False,
    )
