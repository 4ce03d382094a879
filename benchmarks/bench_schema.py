"""Backup and restore of a schema-heavy PostgreSQL database, against pg_dump -Fc and
pg_restore of the same database (restore issue, item 5).

Run: ``.venv/bin/python benchmarks/bench_schema.py [--rows N]``, or ``make bench``.

The database: a table partitioned by month into 50 partitions (``--rows`` rows spread
over them, default 2,000,000: about 100 MB of COPY text), a contacts table, 200 views,
200 functions and 200 triggers (each trigger runs one of the functions; half of them are
disabled, as CRMs leave them), and a comment on each view: what a CRM's schema looks
like once a few add-ons ran their migrations. With few rows the comparison measures
start-up: each of our commands spends about 0.7 s importing and opening the catalog and
the store before its first query, where pg_dump and pg_restore start in milliseconds.

Contenders, each a subprocess measured by ``measurement.measure``, ``RUNS`` times each,
taking turns (median wall time shown):

(a) ours: ``retention-pipeline backup CLIENT`` to an S3 store on moto's server;
(b) ``pg_dump -Fc -f FILE`` of the same database;
(c) ours: ``retention-pipeline restore RP --to EMPTY_DB`` (verification included: rows,
    and the inventory of every view, function and trigger);
(d) ``pg_restore -d EMPTY_DB FILE``.

Target: (a) + (c) at most 1.5 times (b) + (d). Prints markdown tables and exits 1 when
the target is missed. Speed is measured here, never asserted in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import psycopg

from bench_backup import BIN, CLIENT, Row, Target, _env, _make_bucket, _make_home, median
from contacts_database import checkpoint, scratch_database, sqlalchemy_url
from measurement import Measurement, measure, moto_process

RUNS = 3
OBJECTS = 200
PARTITIONS = 50


def fill(url: str, rows: int) -> None:
    """The schema described in the module docstring, and ``rows`` rows of activity."""
    statements = [
        "CREATE TABLE contacts (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, "
        "name text NOT NULL, score int NOT NULL DEFAULT 0, updated_at timestamptz)",
        "CREATE TABLE activity (id bigint NOT NULL, at date NOT NULL, contact_id bigint, "
        "kind text NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
    ]
    for month in range(PARTITIONS):
        year, index = 2022 + month // 12, month % 12 + 1
        following = (year + 1, 1) if index == 12 else (year, index + 1)
        statements.append(
            f"CREATE TABLE activity_{month:02d} PARTITION OF activity FOR VALUES FROM "
            f"('{year}-{index:02d}-01') TO ('{following[0]}-{following[1]:02d}-01')"
        )
    statements.append("CREATE INDEX activity_contact_idx ON activity (contact_id)")
    for n in range(OBJECTS):
        statements += [
            f"CREATE FUNCTION touch_{n}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN NEW.updated_at := now(); NEW.score := NEW.score + {n % 7}; "
            "RETURN NEW; END $$",
            f"CREATE TRIGGER touch_{n} BEFORE UPDATE ON contacts FOR EACH ROW "
            f"WHEN (OLD.score IS DISTINCT FROM NEW.score) EXECUTE FUNCTION touch_{n}()",
            f"CREATE VIEW report_{n} AS SELECT a.kind, count(*) AS n, max(a.at) AS last "
            f"FROM activity a JOIN contacts c ON c.id = a.contact_id "
            f"WHERE a.contact_id % {OBJECTS} = {n} GROUP BY a.kind",
            f"COMMENT ON VIEW report_{n} IS 'activity report {n}'",
        ]
        if n % 2:
            statements.append(f"ALTER TABLE contacts DISABLE TRIGGER touch_{n}")
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        contacts = max(1, rows // 10)
        conn.execute(
            "INSERT INTO contacts SELECT g, 'user' || g || '@example.test', 'Person ' || g, "
            "g %% 100, NULL FROM generate_series(1, %s) g",
            (contacts,),
        )
        conn.execute(
            "INSERT INTO activity SELECT g, date '2022-01-01' + (g %% (%s * 30)), "
            "1 + g %% %s, (ARRAY['call','mail','visit'])[1 + g %% 3], "
            "'note ' || g FROM generate_series(1, %s) g",
            (PARTITIONS, contacts, rows),
        )
        conn.execute("VACUUM (FREEZE, ANALYZE)")


def _backup(home: Path, env: dict[str, str], source: str) -> tuple[Measurement, str]:
    run = measure(
        [str(BIN / "retention-pipeline"), "backup", CLIENT, "--home", str(home), "--json"],
        env={**env, "BENCH_CRM_URL": sqlalchemy_url(source)},
    )
    return run, str(json.loads(run.stdout)["recovery_point_id"])


def _restore(home: Path, env: dict[str, str], rp_id: str) -> Measurement:
    with scratch_database("bench_schema_ours") as target:
        checkpoint()
        return measure(
            [
                str(BIN / "retention-pipeline"),
                "restore",
                rp_id,
                "--to",
                sqlalchemy_url(target),
                "--home",
                str(home),
            ],
            env=env,
        )


def _pg_restore(dump: Path, env: dict[str, str]) -> Measurement:
    with scratch_database("bench_schema_pgr") as target:
        checkpoint()
        return measure(["pg_restore", "-d", target, str(dump)], env=env)


def run(rows: int) -> int:
    """Build the database, run every contender, print the tables; 1 if the target failed."""
    with tempfile.TemporaryDirectory(prefix="bench-schema-") as scratch:
        folder = Path(scratch)
        dump = folder / "schema.dump"
        with moto_process(folder / "moto.log") as endpoint, scratch_database() as source:
            _make_bucket(endpoint)
            env = _env(endpoint)
            home = _make_home(folder, endpoint, env)
            fill(source, rows)
            backups, dumps, restores, pg_restores = [], [], [], []
            rp_id = ""
            for _ in range(RUNS):
                checkpoint()
                backup, rp_id = _backup(home, env, source)
                backups.append(backup)
                checkpoint()
                dumps.append(measure(["pg_dump", "-Fc", "-f", str(dump), source], env=env))
            for _ in range(RUNS):
                restores.append(_restore(home, env, rp_id))
                pg_restores.append(_pg_restore(dump, env))
    rows_out = [
        Row(f"retention-pipeline backup, median of {RUNS}", median(backups), None),
        Row(f"pg_dump -Fc, median of {RUNS}", median(dumps), None),
        Row(f"retention-pipeline restore (verified), median of {RUNS}", median(restores), None),
        Row(f"pg_restore, median of {RUNS}", median(pg_restores), None),
    ]
    ours = rows_out[0].run.wall + rows_out[2].run.wall
    native = rows_out[1].run.wall + rows_out[3].run.wall
    target = Target("backup + restore / pg_dump -Fc + pg_restore", ours / native, 1.5)
    context = {
        "backup / pg_dump -Fc": rows_out[0].run.wall / rows_out[1].run.wall,
        "restore / pg_restore": rows_out[2].run.wall / rows_out[3].run.wall,
    }
    print(
        f"{OBJECTS} views, {OBJECTS} functions, {OBJECTS} triggers, {PARTITIONS} partitions, "
        f"{rows:,} partitioned rows; PostgreSQL on 127.0.0.1, moto in its own process, "
        f"{os.cpu_count()} cores.\n"
    )
    print("| contender | wall s | peak RSS MiB |")
    print("|---|---:|---:|")
    for row in rows_out:
        print(f"| {row.name} | {row.run.wall:.2f} | {row.run.peak_rss_mib:.0f} |")
    print("\n| target | measured | limit | met |")
    print("|---|---:|---:|:---:|")
    met = "yes" if target.met else "NO"
    print(f"| {target.what} | {target.value:.2f}x | {target.limit:.2f}x | {met} |")
    for what, ratio in context.items():
        print(f"| {what} (context, no target) | {ratio:.2f}x | - | - |")
    if not target.met:
        print(f"TARGET MISSED: {target.what}: {target.value:.2f}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    return run(args.rows)


if __name__ == "__main__":
    sys.exit(main())
