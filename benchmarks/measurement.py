"""How a benchmark measures a contender, and the moto server it uploads to.

Every contender runs as its own subprocess under ``/usr/bin/time -v``, so wall time and
peak RSS are those of the contender alone (a pipeline's peak RSS is the largest of its
processes, which is what the kernel reports through ``wait4``). Where GNU time is missing,
a fresh Python wrapper reads ``RUSAGE_CHILDREN`` instead: nothing is installed for this.

moto runs in a separate process too (``python -m moto.server``), so its memory and CPU
are not counted in ours. A benchmark that lists many object versions can ask for
``moto_listing.py`` instead, moto's server with a ListObjectVersions whose cost per page
does not grow with the bucket (see that module for why).

Each run also records the machine's busy CPU-seconds (``/proc/stat``: every process on
every core, so the contender, the PostgreSQL backends serving it and moto). With every
core busy, wall time cannot fall below that figure divided by the number of cores: it
tells work that was added from work that was only spread over more cores.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = "/usr/bin/time"
_RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'Maximum resident set size (kbytes): {peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


class ContenderError(RuntimeError):
    """A measured command exited non-zero; the message carries its last output lines."""


@dataclass(frozen=True)
class Measurement:
    """Wall time in seconds and peak resident set size in KiB of one run."""

    wall: float
    peak_rss_kib: int
    stdout: str = ""
    machine_cpu: float | None = None  # busy CPU-seconds of the whole machine during the run

    @property
    def peak_rss_mib(self) -> float:
        """Peak RSS in MiB, the unit of the targets."""
        return self.peak_rss_kib / 1024

    def plus(self, other: Measurement) -> Measurement:
        """Two steps run one after the other: wall times and CPU add up, peak RSS is the larger."""
        cpu = None
        if self.machine_cpu is not None and other.machine_cpu is not None:
            cpu = self.machine_cpu + other.machine_cpu
        return Measurement(
            self.wall + other.wall, max(self.peak_rss_kib, other.peak_rss_kib), machine_cpu=cpu
        )


def measure(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Measurement:
    """Run ``command`` to completion; raise ``ContenderError`` if it fails."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        if os.access(GNU_TIME, os.X_OK):
            wrapped = [GNU_TIME, "-v", "-o", report.name, *command]
        else:
            wrapped = [sys.executable, "-c", _RUSAGE_WRAPPER, *command]
        busy = machine_busy_seconds()
        start = time.perf_counter()
        done = subprocess.run(
            wrapped, env=dict(env) if env else None, cwd=cwd, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        after = machine_busy_seconds()
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise ContenderError(f"{' '.join(command)[:200]} exited {done.returncode}:\n{tail}")
        text = Path(report.name).read_text() + done.stderr
    cpu = after - busy if after is not None and busy is not None else None
    return Measurement(wall, _peak_rss(text), done.stdout, cpu)


def machine_busy_seconds() -> float | None:
    """CPU-seconds every core of the machine has spent busy since boot; None without Linux.

    Busy is user, nice, system, irq and softirq time of ``/proc/stat``'s first line; idle,
    I/O wait and time stolen by a hypervisor are not work done here.
    """
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _peak_rss(report: str) -> int:
    for line in report.splitlines():
        if "Maximum resident set size (kbytes)" in line:
            return int(line.rsplit(":", 1)[1])
    raise ContenderError("no peak RSS in the timing report")


def shell(script: str) -> list[str]:
    """A bash pipeline that fails when any of its commands fails."""
    return ["bash", "-c", "set -euo pipefail; " + script]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_process(log: Path, *, patched_listing: bool = False) -> Iterator[str]:
    """Start moto's HTTP server in its own process; yield its endpoint URL.

    ``patched_listing``: run it through ``moto_listing.py`` (same server, same arguments,
    ListObjectVersions without moto's per-page scan of the whole bucket).
    """
    port = free_port()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if patched_listing:
        command = [sys.executable, str(Path(__file__).resolve().with_name("moto_listing.py"))]
    else:
        command = [server] if server else [sys.executable, "-m", "moto.server"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ContenderError(f"moto server did not start; see {log}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def directory_size(path: Path) -> int:
    """Bytes of every file under ``path`` (a restic repository's footprint)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
