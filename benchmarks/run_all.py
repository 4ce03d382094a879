"""Run every ``benchmarks/bench_*.py`` and rewrite ``benchmarks/README.md`` with their tables.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/run_all.py [bench_name ...]`` for
some of them only; the README keeps the other sections as they were). Each benchmark runs
alone, one after the other (the machine has two cores: nothing else should run meanwhile),
and prints markdown on its standard output; this script puts each one's output under a
heading with the command that produced it and the date. Exits non-zero if any benchmark
did (a missed target), after writing the README anyway so the numbers can be read.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = HERE / "README.md"
HEADER = """# Benchmarks

Written by `make bench` (`benchmarks/run_all.py`), which runs every `benchmarks/bench_*.py`
one after the other. Speed is measured here and never asserted in the tests. Each section
shows the command that produced it; rerun it to reproduce one table.
"""


def run_one(script: Path) -> tuple[str, int]:
    """Run one benchmark; return its markdown section and its exit code."""
    command = [sys.executable, str(script.relative_to(ROOT))]
    shown = f".venv/bin/python {script.relative_to(ROOT)}"
    print(f"running {shown} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    body = done.stdout.strip() or "(no output)"
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-12:])
        body += f"\n\nExit code {done.returncode}:\n\n```\n{tail}\n```"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {script.stem}\n\nCommand: `{shown}` ({when}, {platform.node()})\n\n{body}\n"
    return section, done.returncode


def previous_sections() -> dict[str, str]:
    """The sections of the current README by benchmark name (kept when not rerun)."""
    if not README.is_file():
        return {}
    sections: dict[str, str] = {}
    for block in README.read_text().split("\n## ")[1:]:
        name = block.split("\n", 1)[0].strip()
        sections[name] = "## " + block.rstrip("\n") + "\n"
    return sections


def main(names: list[str]) -> int:
    """Run them (all, or the ones named), write the README, report the worst exit code."""
    scripts = sorted(HERE.glob("bench_*.py"))
    unknown = set(names) - {s.stem for s in scripts}
    if unknown:
        print(f"no such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    sections = previous_sections()
    worst = 0
    for script in scripts:
        if names and script.stem not in names:
            continue
        sections[script.stem], code = run_one(script)
        worst = worst or code
    body = "\n".join(sections[name] for name in sorted(sections))
    README.write_text(HEADER + "\n" + body)
    print(f"wrote {README.relative_to(ROOT)}", file=sys.stderr)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
