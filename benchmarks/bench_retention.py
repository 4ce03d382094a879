"""Retention planning over 10 M points: the vectorised planner against the per-client loop.

Run: ``.venv/bin/python benchmarks/bench_retention.py [--clients N] [--points N]
[--sample N]``. Prints a markdown table. Not part of the tests: speed is measured here,
never asserted (targets: vectorised under 10 s and under 4 GiB on the 2-core machine).

The per-client loop (build ``Item`` objects, call ``plan_retention`` per client) is timed
on ``--sample`` clients and extrapolated linearly to all clients; the table says so.
Peak RSS is the process high-water mark (``VmHWM``), reset just before each planner runs
where Linux allows it (``/proc/self/clear_refs``), so it includes the input table.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from retention_pipeline.domain.retention import (
    Item,
    KeepCounts,
    RetentionRules,
    plan_retention,
)
from retention_pipeline.domain.retention_frame import plan_retention_frame

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ORDER_FORM = RetentionRules(
    max_age=timedelta(days=35),
    min_age=timedelta(days=7),
    keep=KeepCounts(last=3, daily=7, weekly=4, monthly=6),
)
LONG_HISTORY = RetentionRules(
    max_age=timedelta(days=3650), keep=KeepCounts(daily=7, weekly=4, monthly=12, yearly=3)
)


def build_table(clients: int, points: int, seed: int = 42) -> pd.DataFrame:
    """One backup a day per client at a random minute, some incomplete, 1 % held."""
    rng = np.random.default_rng(seed)
    rows = clients * points
    day = np.tile(np.arange(points, dtype=np.int64), clients)
    minute = rng.integers(0, 24 * 60, size=rows)
    created_us = (pd.Timestamp(NOW).value // 1000) - (day * 86_400 + minute * 60) * 1_000_000
    client_names = np.asarray([f"client-{n:05d}" for n in range(clients)], dtype=object)
    client = pd.Categorical.from_codes(np.repeat(np.arange(clients), points), client_names)
    held_clients = rng.random(clients) < 0.01
    held = np.where(np.repeat(held_clients, points), "case-1", None).astype(object)
    return pd.DataFrame(
        {
            "client": client,
            "id": pd.Series([f"rp-{n:08d}" for n in range(rows)], dtype=object),
            "kind": pd.Categorical.from_codes(
                np.zeros(rows, dtype=np.int8), ["recovery_point", "archive_copy"]
            ),
            "created_at": pd.to_datetime(created_us, unit="us", utc=True),
            "complete": rng.random(rows) > 0.005,
            "held": pd.Series(held, dtype=object),
            "locked_until": pd.Series(pd.NaT, index=range(rows), dtype="datetime64[us, UTC]"),
            "client_active": True,
        }
    )


def rules_for(clients: int) -> dict[str, RetentionRules]:
    """Half the clients on the §5 order form, half on a long daily/weekly/monthly history."""
    return {f"client-{n:05d}": ORDER_FORM if n % 2 else LONG_HISTORY for n in range(clients)}


def reset_peak() -> bool:
    """Reset the RSS high-water mark (Linux); False where it cannot be done."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mib() -> float:
    """The RSS high-water mark since the last reset (or since start), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_vectorised(
    table: pd.DataFrame, rules: dict[str, RetentionRules], sample_rows: int
) -> tuple[float, int, int]:
    """Wall time, points kept, and points kept among the loop's sample (to cross-check)."""
    start = time.perf_counter()
    plan = plan_retention_frame(table, rules, NOW)
    elapsed = time.perf_counter() - start
    keep = np.asarray(plan["action"] == "keep")
    return elapsed, int(keep.sum()), int(keep[:sample_rows].sum())


def run_loop(
    table: pd.DataFrame, rules: dict[str, RetentionRules], sample: int, points: int
) -> tuple[float, int]:
    """Items built from rows, one ``plan_retention`` call per client, on the sample."""
    part = table.iloc[: sample * points]
    start = time.perf_counter()
    kept = 0
    for client, rows in part.groupby("client", observed=True, sort=False):
        items = [
            Item(ident, created.to_pydatetime(), kind, complete, held, None)
            for ident, created, kind, complete, held in zip(
                rows["id"],
                rows["created_at"],
                rows["kind"],
                rows["complete"],
                rows["held"],
                strict=True,
            )
        ]
        decisions = plan_retention(items, rules[str(client)], NOW, client_active=True)
        kept += sum(d.action == "keep" for d in decisions)
    return time.perf_counter() - start, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--sample", type=int, default=100, help="clients timed in the loop")
    args = parser.parse_args()
    rules = rules_for(args.clients)
    table = build_table(args.clients, args.points)
    rows = len(table)
    table_mib = peak_mib()
    resettable = reset_peak()
    vector_s, vector_kept, sample_kept = run_vectorised(table, rules, args.sample * args.points)
    vector_peak = peak_mib()
    reset_peak()
    loop_s, loop_kept = run_loop(table, rules, args.sample, args.points)
    loop_peak = peak_mib()
    scale = args.clients / args.sample
    peak_note = "since reset" if resettable else "process lifetime"
    print(
        f"{rows:,} points, {args.clients:,} clients x {args.points:,}; table built: "
        f"{table_mib:,.0f} MiB peak RSS; peak RSS below is {peak_note}, table included\n"
    )
    print("| planner | points planned | wall time (s) | peak RSS (MiB) | kept |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| vectorised (plan_retention_frame) | {rows:,} | {vector_s:.1f} "
        f"| {vector_peak:,.0f} | {vector_kept:,} |"
    )
    print(
        f"| per-client loop, measured on {args.sample} clients | {args.sample * args.points:,} "
        f"| {loop_s:.1f} | {loop_peak:,.0f} | {loop_kept:,} |"
    )
    print(
        f"| per-client loop, extrapolated x{scale:g} to all clients | {rows:,} "
        f"| {loop_s * scale:.1f} | n/a | n/a |"
    )
    agree = "yes" if sample_kept == loop_kept else f"NO ({sample_kept:,} vs {loop_kept:,})"
    print(f"\nvectorised and loop keep the same number of the sampled points: {agree}")  # fmt: skip


if __name__ == "__main__":
    main()
