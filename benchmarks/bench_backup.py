"""Backup and restore of a 1,000,000-contact PostgreSQL database, against what an operator
would script by hand (backup issue, item 8).

Run: ``.venv/bin/python benchmarks/bench_backup.py [--contacts N] [--scale K]``, or
``make bench``. Contenders, each a subprocess measured by ``measurement.measure``:

(a) ours: ``retention-pipeline backup CLIENT --home H`` to an S3 store on moto's server;
(b) ``pg_dump -Fc | age -r RECIPIENT > file``, then a boto3 ``upload_file`` of that file
    to the same server (both steps' wall times added, the larger peak RSS);
(c) ``pg_dump -Fc | restic backup --stdin`` into a local repository (``restic init`` is
    not counted);
(d) ours: ``retention-pipeline restore RP --to EMPTY_DB`` (which also re-dumps the target
    to verify every table's checksum);
(e) for context, not a target: ``pg_restore -d EMPTY_DB file.dump`` (decrypting the age
    file first is not counted);
(f) the restore an operator would script for (b), a boto3 ``download_file`` of the sealed
    dump, then ``age -d -i KEY file | pg_restore -d EMPTY_DB``: the restore target
    (restore issue, item 5) compares (d), verification included, with it.
Contenders (a) to (c), then (d) to (f), run ``RUNS`` times each, taking turns; the tables
show the median wall times (and the largest peak RSS). A ``CHECKPOINT`` before each run
(not timed) starts every contender with no dirty pages left by the one before. Single
runs swung by 20% or more from one run to the next here, more than some targets' margins.

The RSS-scaling check backs up a database of ``scale`` times the contacts with (a) again.
Prints markdown tables, and exits 1 naming every target that was missed. Speed is
measured here, never asserted in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import boto3

from contacts_database import (
    checkpoint,
    copy_text_size,
    fill_contacts,
    scratch_database,
    sqlalchemy_url,
)
from measurement import Measurement, directory_size, measure, moto_process, shell

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLIENT = "bench-client"
BUCKET = "bench-backups"
RUNS = 5
REGION = "eu-west-3"
MIB = 1024 * 1024
UPLOAD = (
    "import boto3, sys\n"
    "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2])\n"
    "s3.upload_file(sys.argv[3], sys.argv[4], sys.argv[5])\n"
)
DOWNLOAD = (
    "import boto3, sys\n"
    "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2])\n"
    "s3.download_file(sys.argv[3], sys.argv[4], sys.argv[5])\n"
)
SEALED_KEY = "baseline.dump.age"


@dataclass(frozen=True)
class Row:
    """One contender's figures."""

    name: str
    run: Measurement
    size: int | None
    walls: tuple[float, ...] = ()  # every run's wall time, in run order, when there were several


@dataclass(frozen=True)
class Target:
    """One target of the issue: what is compared, the measured ratio or value, the limit."""

    what: str
    value: float
    limit: float
    unit: str = "x"

    @property
    def met(self) -> bool:
        """Whether the measured value is within its limit."""
        return self.value <= self.limit


def _env(endpoint: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=REGION,
        RESTIC_PASSWORD="bench-only-password",
        BENCH_CRM_URL="",
    )
    env.update(extra or {})
    return env


def _make_bucket(endpoint: str) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _make_home(folder: Path, endpoint: str, env: dict[str, str]) -> Path:
    """A home with the S3 store, the source connection and an automated-backup policy."""
    home = folder / "home"
    cli = str(BIN / "retention-pipeline")
    subprocess.run([cli, "init", "--home", str(home)], check=True, env=env, capture_output=True)
    (home / "retention.yaml").write_text(
        "catalog: sqlite:///catalog.db\n"
        "key_custody: {kind: local, master_key_file: keys/master.key}\n"
        "signing_key: keys/certificates.ed25519\n"
        "stores:\n"
        f'  bench-s3: {{url: "s3://{BUCKET}/backups", endpoint_url: "{endpoint}", '
        f"location: {REGION}}}\n"
        "connections:\n"
        "  bench_crm: {url_env: BENCH_CRM_URL}\n"
        "reports: reports\n"
    )
    (home / "policies" / f"{CLIENT}.yaml").write_text(
        f"client: {CLIENT}\n"
        "display_name: Benchmark client\n"
        "contract: {reference: BC-BENCH, ends_on: null}\n"
        "source:\n  database: {connection: bench_crm}\n"
        "backup:\n  mode: automated\n  schedule: '0 2 * * *'\n  storage: bench-s3\n"
        "  retention: {max_age: 35d, min_age: 7d, keep: {last: 3}}\n"
        "archive:\n  enabled: false\n"
        "purpose: benchmark\nlegal_basis: contract\n"
        "protection: {client_recipients: [], hoster_can_decrypt: true}\n"
    )
    subprocess.run(
        [cli, "policy", "apply", "--home", str(home)], check=True, env=env, capture_output=True
    )
    return home


def _ours_backup(
    home: Path, env: dict[str, str], source: str
) -> tuple[Measurement, dict[str, object]]:
    run = measure(
        [str(BIN / "retention-pipeline"), "backup", CLIENT, "--home", str(home), "--json"],
        env={**env, "BENCH_CRM_URL": sqlalchemy_url(source)},
    )
    return run, json.loads(run.stdout)


def _baseline_backup(folder: Path, endpoint: str, env: dict[str, str], source: str) -> Row:
    key = folder / "age-key.txt"
    key.unlink(missing_ok=True)  # age-keygen never overwrites a key file
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = next(
        line.split(": ", 1)[1] for line in key.read_text().splitlines() if "public key" in line
    )
    sealed = folder / "baseline.dump.age"
    dump = measure(shell(f"pg_dump -Fc '{source}' | age -r {recipient} > '{sealed}'"), env=env)
    upload = measure(
        [sys.executable, "-c", UPLOAD, endpoint, REGION, str(sealed), BUCKET, SEALED_KEY],
        env=env,
    )
    plain = folder / "baseline.dump"
    subprocess.run(["age", "-d", "-i", str(key), "-o", str(plain), str(sealed)], check=True)
    name = "pg_dump -Fc \\| age, then boto3 upload_file"
    return Row(name, dump.plus(upload), sealed.stat().st_size)


def _restic_backup(repo: Path, env: dict[str, str], source: str) -> Row:
    subprocess.run(["restic", "init", "-q", "--repo", str(repo)], check=True, env=env)
    run = measure(
        shell(
            f"pg_dump -Fc '{source}' | restic backup -q --repo '{repo}' --stdin "
            "--stdin-filename db.dump"
        ),
        env=env,
    )
    return Row("pg_dump -Fc \\| restic backup --stdin", run, directory_size(repo))


def _backups(
    folder: Path, endpoint: str, home: Path, env: dict[str, str], source: str
) -> tuple[Row, dict[str, object], Row, Row]:
    """Each backup contender ``RUNS`` times, in turn; the median wall time of each.

    Taking turns spreads the machine's background work over every contender. Each restic
    run gets a new repository: a second backup into the same one would only add what
    changed, which is not the job being compared.
    """
    ours_runs, baseline_runs, restic_runs = [], [], []
    result: dict[str, object] = {}
    for turn in range(RUNS):
        checkpoint()
        run, result = _ours_backup(home, env, source)
        ours_runs.append(run)
        checkpoint()
        baseline_runs.append(_baseline_backup(folder, endpoint, env, source))
        checkpoint()
        restic_runs.append(_restic_backup(folder / f"restic-{turn}", env, source))
    runs = f", median of {RUNS}"
    size = int(str(result["size"]))
    ours = _summary(f"retention-pipeline backup (to S3 on moto){runs}", ours_runs, size)
    baseline = baseline_runs[-1]
    restic = restic_runs[-1]
    return (
        ours,
        result,
        _summary(baseline.name + runs, [r.run for r in baseline_runs], baseline.size),
        _summary(restic.name + runs, [r.run for r in restic_runs], restic.size),
    )


def _restores(
    folder: Path, endpoint: str, home: Path, env: dict[str, str], rp_id: str
) -> tuple[Row, Row, Row]:
    """Each restore ``RUNS`` times, in turn; the median wall time of each.

    Alternating spreads the server's background work (checkpoints, the previous run's
    dirty pages) over the contenders instead of charging it to whichever runs second.
    """
    dump, key, fetched = folder / "baseline.dump", folder / "age-key.txt", folder / "fetched.age"
    download = shlex.join(
        [sys.executable, "-c", DOWNLOAD, endpoint, REGION, BUCKET, SEALED_KEY, str(fetched)]
    )
    ours_runs, baseline_runs, operator_runs = [], [], []
    for _ in range(RUNS):
        with scratch_database("bench_ours") as ours_target:
            checkpoint()
            ours_runs.append(
                measure(
                    [
                        str(BIN / "retention-pipeline"),
                        "restore",
                        rp_id,
                        "--to",
                        sqlalchemy_url(ours_target),
                        "--home",
                        str(home),
                    ],
                    env=env,
                )
            )
        with scratch_database("bench_pgr") as target:
            checkpoint()
            baseline_runs.append(measure(["pg_restore", "-d", target, str(dump)], env=env))
        with scratch_database("bench_ops") as target:
            fetched.unlink(missing_ok=True)
            checkpoint()
            script = f"{download} && age -d -i '{key}' '{fetched}' | pg_restore -d '{target}'"
            operator_runs.append(measure(shell(script), env=env))
    runs = f"median of {RUNS}"
    return (
        _summary(f"retention-pipeline restore (with re-dump check), {runs}", ours_runs, None),
        _summary(f"pg_restore (single job; context), {runs}", baseline_runs, None),
        _summary(
            f"boto3 download_file, then age -d \\| pg_restore, {runs}",
            operator_runs,
            None,
        ),
    )


def _summary(name: str, runs: list[Measurement], size: int | None) -> Row:
    """A contender's row: the median run, and every run's wall time beside it."""
    return Row(name, median(runs), size, tuple(run.wall for run in runs))


def median(runs: list[Measurement]) -> Measurement:
    """The run of median wall time, with the largest peak RSS of all the runs."""
    middle = sorted(runs, key=lambda run: run.wall)[len(runs) // 2]
    return replace(middle, peak_rss_kib=max(run.peak_rss_kib for run in runs))


def run(contacts: int, scale: int) -> int:
    """Build the databases, run every contender, print the tables; 1 if a target failed."""
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as scratch:
        folder = Path(scratch)
        with moto_process(folder / "moto.log") as endpoint:
            _make_bucket(endpoint)
            env = _env(endpoint)
            home = _make_home(folder, endpoint, env)
            with scratch_database() as source:
                fill_contacts(source, contacts)
                csv = copy_text_size(source)
                ours, result, baseline, restic = _backups(folder, endpoint, home, env, source)
                dump_size = (folder / "baseline.dump").stat().st_size
                rp_id = str(result["recovery_point_id"])
                restores = _restores(folder, endpoint, home, env, rp_id)
            scaled = None
            if scale > 1:
                with scratch_database() as big:
                    fill_contacts(big, contacts * scale)
                    scaled_run, _ = _ours_backup(home, env, big)
                    scaled = Row(f"retention-pipeline backup, {scale}x the rows", scaled_run, None)
    rows = [ours, baseline, restic, *restores] + ([scaled] if scaled else [])
    targets = _targets(ours, baseline, restic, dump_size, restores, scaled)
    _print(contacts, csv, dump_size, rows, targets)
    missed = [t for t in targets if not t.met]
    for target in missed:
        print(
            f"TARGET MISSED: {target.what}: {target.value:.2f} > {target.limit:.2f}",
            file=sys.stderr,
        )
    return 1 if missed else 0


def _targets(
    ours: Row,
    baseline: Row,
    restic: Row,
    dump_size: int,
    restores: tuple[Row, Row, Row],
    scaled: Row | None,
) -> list[Target]:
    assert ours.size is not None
    out = [
        Target("backup wall time / pg_dump+age+upload", ours.run.wall / baseline.run.wall, 0.5),
        Target("backup wall time / restic", ours.run.wall / restic.run.wall, 1.0),
        Target("backup size / pg_dump -Fc size", ours.size / dump_size, 1.1),
        Target("backup peak RSS", ours.run.peak_rss_mib, 300, " MiB"),
        Target(
            "restore wall time (with verification) / download + age -d | pg_restore",
            restores[0].run.wall / restores[2].run.wall,
            1.0,
        ),
    ]
    if scaled is not None:
        change = abs(scaled.run.peak_rss_kib / ours.run.peak_rss_kib - 1)
        out.append(Target("peak RSS change at the larger scale", change, 0.10))
        rss = scaled.run.peak_rss_mib
        out.append(Target("backup peak RSS at the larger scale", rss, 300, " MiB"))
    return out


def _print(contacts: int, csv: int, dump_size: int, rows: list[Row], targets: list[Target]) -> None:
    print(
        f"{contacts:,} contacts ({csv / 1e6:.0f} MB as COPY text; pg_dump -Fc: "
        f"{dump_size / 1e6:.1f} MB), PostgreSQL on 127.0.0.1, moto in its own process, "
        f"{os.cpu_count()} cores.\n"
    )
    print("| contender | wall s | each run, s | machine CPU s | output MB | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        size = f"{row.size / 1e6:.1f}" if row.size is not None else "-"
        each = ", ".join(f"{wall:.2f}" for wall in row.walls) or "-"
        cpu = row.run.machine_cpu
        busy = f"{cpu:.1f}" if cpu is not None else "-"
        print(
            f"| {row.name} | {row.run.wall:.2f} | {each} | {busy} | {size} "
            f"| {row.run.peak_rss_mib:.0f} |"
        )
    print(
        "\nmachine CPU: busy CPU-seconds of the whole machine during the median run "
        "(the contender, its PostgreSQL backends, moto). With every core busy, wall time "
        f"cannot fall below it divided by the {os.cpu_count()} cores."
    )
    print("\n| target | measured | limit | met |")
    print("|---|---:|---:|:---:|")
    for t in targets:
        met = "yes" if t.met else "NO"
        print(f"| {t.what} | {t.value:.2f}{t.unit} | {t.limit:.2f}{t.unit} | {met} |")


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--scale", type=int, default=3, help="rows multiplier for the RSS check")
    args = parser.parse_args(argv)
    return run(args.contacts, args.scale)


if __name__ == "__main__":
    sys.exit(main())
