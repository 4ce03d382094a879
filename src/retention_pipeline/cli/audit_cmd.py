"""``audit controls`` and ``audit report``: every compliance control's verdict per client.

``audit controls`` prints the verdicts with their evidence; ``audit report`` writes them,
with the facts behind the charts, as one HTML page, CSV or JSON file (``services.report``).

Auditors' scripts take ``--json``; people get a table and one summary line. The command
reports, it never fails a run: exit code 0 whatever the verdicts (the ``audit_compliance``
DAG decides what a non-compliant control triggers). Evidence is ids, dates and counts.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.domain.controls import ControlResult, summary
from retention_pipeline.errors import ConfigError, NotFoundError
from retention_pipeline.services.audit import audit
from retention_pipeline.services.report import FORMATS, Format, report, write

EVIDENCE_WIDTH = 90


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``audit`` and its subcommands to the top-level parser."""
    parser = commands.add_parser("audit", help="compliance controls for auditors")
    sub = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    controls = sub.add_parser(
        "controls", parents=[common], help="evaluate every control for every client"
    )
    controls.add_argument("--client", help="only this client (and installation-wide controls)")
    controls.add_argument("--json", action="store_true", help="print JSON")
    controls.add_argument("--now", help="evaluate as of this UTC time (ISO 8601), default now")
    controls.add_argument(
        "--verify-window-days", type=int, default=30, metavar="N",
        help="every backup must have been verified within N days (default 30)",
    )  # fmt: skip
    controls.add_argument(
        "--drill-window-days", type=int, default=90, metavar="M",
        help="every client needs a passed restore drill within M days (default 90)",
    )  # fmt: skip
    controls.set_defaults(handler=run_controls)
    add_report_parser(sub, common)


def run_controls(args: argparse.Namespace) -> int:
    """Print the verdicts and the summary line; exit 0."""
    installation = bootstrap.load_installation(args.home)
    now = parse_now(args.now)
    if args.verify_window_days < 1 or args.drill_window_days < 1:
        raise ConfigError("--verify-window-days and --drill-window-days must be at least 1")
    results = audit(
        installation,
        now,
        verify_window_days=args.verify_window_days,
        drill_window_days=args.drill_window_days,
    )
    if args.client:
        known = {r.client_id for r in results}
        if args.client not in known:
            raise NotFoundError(
                f"client {args.client!r} is not in the catalog; list clients with: "
                "retention-pipeline policy list"
            )
        results = [r for r in results if r.client_id in (args.client, "*")]
    counts = summary(results)
    if args.json:
        print_json({"now": now, "summary": counts, "results": [as_dict(r) for r in results]})
        return 0
    print_table(
        ["CLIENT", "CONTROL", "VERDICT", "EVIDENCE"],
        [[r.client_id, r.control_id, r.verdict, short_evidence(r.evidence)] for r in results],
    )
    print(
        f"{counts['compliant']} compliant, {counts['non_compliant']} non-compliant, "
        f"{counts['not_applicable']} not applicable"
    )
    return 0


def add_report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``audit report``: the same verdicts written as one HTML, CSV or JSON file."""
    parser = sub.add_parser(
        "report", parents=[common], help="write the compliance report (HTML, CSV or JSON)"
    )
    parser.add_argument("--client", help="only this client (and installation-wide controls)")
    parser.add_argument("--format", choices=FORMATS, default="html", help="default html")
    parser.add_argument(
        "--out", metavar="PATH", help="file to write (default <home>/reports/audit-<UTC>.<ext>)"
    )
    parser.add_argument("--now", help="evaluate as of this UTC time (ISO 8601), default now")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Write the report, print its path and the summary line; exit 0 whatever the verdicts."""
    installation = bootstrap.load_installation(args.home)
    now = parse_now(args.now)
    fmt: Format = args.format
    built = report(installation, now, client=args.client)
    if args.out:
        path = Path(args.out).expanduser()
    else:
        path = installation.reports_dir / f"audit-{now:%Y%m%dT%H%M%SZ}.{fmt}"
    if path.is_dir():
        raise ConfigError(f"--out: {path} is a folder; give a file name like audit.{fmt}")
    write(built, fmt, path)
    counts = built.summary
    print(path)
    print(
        f"{counts['compliant']} compliant, {counts['non_compliant']} non-compliant, "
        f"{counts['not_applicable']} not applicable"
    )
    return 0


def parse_now(text: str | None) -> datetime:
    """``--now`` as an aware UTC time (naive input is read as UTC); default: the clock."""
    if not text:
        return bootstrap.utc_now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--now: {text!r} is not an ISO 8601 time like 2026-11-26T02:00Z"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_dict(result: ControlResult) -> dict[str, Any]:
    """One result as JSON-able data (the report and the plugin reuse this shape)."""
    return {
        "client": result.client_id,
        "control": result.control_id,
        "title": result.title,
        "verdict": result.verdict,
        "evidence": result.evidence,
    }


def short_evidence(evidence: dict[str, Any]) -> str:
    """The evidence on one line: set values only, lists as counts, cut to a width."""
    parts = []
    for key, value in evidence.items():
        if value in (None, [], {}, 0, False) and key != "reason":
            continue
        if isinstance(value, list | dict):
            value = f"[{len(value)}]"
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= EVIDENCE_WIDTH else text[: EVIDENCE_WIDTH - 3] + "..."
