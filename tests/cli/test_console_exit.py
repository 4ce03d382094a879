"""The console script leaves without Python's teardown, and loses nothing by it.

``cli.main.run`` ends the process with ``os._exit`` once ``main`` returned: these tests
run the real console script (or ``run`` in a child interpreter) and check what a user
and a calling script rely on: the whole output arrives through a pipe, the exit code is
the command's, exit handlers still run, and a thread that is still working is waited for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from retention_pipeline.cli.main import main

CLI = Path(sys.executable).with_name("retention-pipeline")


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "h"
    assert main(["init", "--home", str(home)]) == 0
    assert main(["policy", "apply", "--home", str(home)]) == 0  # creates the catalog
    return home


def _cli(*words: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, its output captured through pipes."""
    return subprocess.run(
        [str(CLI), *words], capture_output=True, text=True, check=False, timeout=60
    )


def test_a_piped_output_arrives_whole(tmp_path: Path) -> None:
    home = _home(tmp_path)
    result = _cli("policy", "schema", "--home", str(home))
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)  # cut short, it would not parse
    assert "backup" in schema["properties"]
    assert result.stdout.endswith("\n")


def test_the_exit_code_and_error_line_are_the_commands(tmp_path: Path) -> None:
    home = _home(tmp_path)
    result = _cli("backup", "no-such-client", "--home", str(home))
    expected = main(["backup", "no-such-client", "--home", str(home)])
    assert expected != 0
    assert result.returncode == expected
    assert result.stderr.startswith("error: ")
    assert "no-such-client" in result.stderr


def _run_in_child(tmp_path: Path, setup: str) -> subprocess.CompletedProcess[str]:
    """``run()`` for ``clients`` in a new interpreter, after ``setup`` (code) ran there."""
    home = _home(tmp_path)
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from retention_pipeline.cli.main import run
        marker = Path({str(tmp_path / "marker")!r})
        {setup}
        sys.argv = ["retention-pipeline", "clients", "--home", {str(home)!r}]
        run()
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )


def test_exit_handlers_still_run(tmp_path: Path) -> None:
    result = _run_in_child(
        tmp_path,
        "import atexit; atexit.register(lambda: marker.write_text('handler ran'))",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "marker").read_text() == "handler ran"


def test_a_thread_still_working_is_waited_for(tmp_path: Path) -> None:
    setup = (
        "import threading, time; "
        "threading.Thread(target=lambda: (time.sleep(1), marker.write_text('done'))).start()"
    )
    result = _run_in_child(tmp_path, setup)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "marker").read_text() == "done"
