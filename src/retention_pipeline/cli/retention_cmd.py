"""``retention plan | apply`` and ``archive``: the lifecycle after a backup.

``plan`` and ``apply --dry-run`` run the same planner as a real ``apply`` and print the
same set: what a dry run says will go is exactly what a real run deletes.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli import arguments
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.errors import ConfigError
from retention_pipeline.services.retention import PlannedItem


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``retention`` and ``archive`` to the top-level parser."""
    retention = commands.add_parser("retention", help="plan and enforce retention")
    sub = retention.add_subparsers(dest="retention_command", metavar="SUBCOMMAND", required=True)
    for name, handler, text in (
        ("plan", run_plan, "keep or expire, with a reason, for every item"),
        ("apply", run_apply, "delete what the plan expires and write the report"),
    ):
        cmd = sub.add_parser(name, parents=[common], help=text)
        cmd.add_argument("client", nargs="?", type=arguments.client_id)
        cmd.add_argument("--now", help="plan as of this UTC time (ISO 8601), default now")
        cmd.add_argument("--json", action="store_true", help="print JSON")
        if name == "apply":
            cmd.add_argument("--dry-run", action="store_true", help="delete nothing")
        cmd.set_defaults(handler=handler)

    archive = commands.add_parser(
        "archive", parents=[common], help="copy due recovery points to the archive store"
    )
    archive.add_argument("client", nargs="?", type=arguments.client_id)
    archive.set_defaults(handler=run_archive)


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--now: {text!r} is not an ISO 8601 time like 2026-11-26T02:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _show(items: list[PlannedItem], as_json: bool) -> None:
    if as_json:
        print_json([i.row() for i in items])
        return
    print_table(
        ["CLIENT", "KIND", "ID", "CREATED", "ACTION", "REASON"],
        [[i.client, i.kind, i.id, i.created_at, i.action, i.reason] for i in items],
    )
    expired = sum(1 for i in items if i.action == "expire")
    print(f"{len(items)} items: {len(items) - expired} kept, {expired} expire")


def run_plan(args: argparse.Namespace) -> int:
    """Print the plan; deletes nothing."""
    installation = bootstrap.load_installation(args.home)
    arguments.known_client(installation.catalog, args.client)
    service = installation.retention_service()
    clients = [args.client] if args.client else None
    _show(service.plan(_now(args.now), clients), args.json)
    return 0


def run_apply(args: argparse.Namespace) -> int:
    """Apply the plan (or not, with ``--dry-run``) and write the report."""
    installation = bootstrap.load_installation(args.home)
    arguments.known_client(installation.catalog, args.client)
    service = installation.retention_service()
    clients = [args.client] if args.client else None
    run = service.apply(_now(args.now), clients, dry_run=args.dry_run)
    _show(run.items, args.json)
    if not args.json:
        verb = "would delete" if run.dry_run else "deleted"
        print(f"{verb} {len(run.expired)} items; report: {', '.join(run.report_paths)}")
    return 0


def run_archive(args: argparse.Namespace) -> int:
    """Archive due recovery points for one client or every client."""
    installation = bootstrap.load_installation(args.home)
    arguments.known_client(installation.catalog, args.client)
    service = installation.archive_service()
    clients = (
        [args.client] if args.client else [c.client_id for c in installation.catalog.list_clients()]
    )
    for client in clients:
        result = service.archive_client(client)
        if result.skipped_reason:
            print(f"{client}: skipped ({result.skipped_reason})")
        else:
            print(f"{client}: {len(result.copied)} archive copies made {', '.join(result.copied)}")
    return 0
