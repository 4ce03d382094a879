"""``backup``, ``points``, ``verify``, ``restore``, ``cleanup`` and ``keys list``.

Every command prints ids, sizes and checksums only: never a key, a row or a name.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli import arguments
from retention_pipeline.cli.heap import settle_heap
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.cli.progress import progress_shown
from retention_pipeline.domain.durations import parse_duration
from retention_pipeline.errors import ConfigError, RetentionError
from retention_pipeline.ports.catalog import ClientKey
from retention_pipeline.services import cleanup
from retention_pipeline.services.restore import ReadReport, RestoreOptions


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the backup commands to the top-level parser."""
    backup = commands.add_parser("backup", parents=[common], help="take one recovery point now")
    backup.add_argument("client", type=arguments.client_id)
    backup.add_argument(
        "--requested-by", default=None, type=arguments.staff_id, help="staff id of the requester"
    )
    backup.add_argument("--json", action="store_true", help="print JSON")
    backup.set_defaults(handler=run_backup)

    points = commands.add_parser("points", parents=[common], help="list recovery points")
    points.add_argument("client", nargs="?", type=arguments.client_id)
    points.add_argument("--json", action="store_true", help="print JSON")
    points.set_defaults(handler=run_points)

    verify = commands.add_parser(
        "verify", parents=[common], help="fetch, decrypt and check a recovery point"
    )
    verify.add_argument("recovery_point")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=run_verify)

    restore = commands.add_parser(
        "restore", parents=[common], help="restore a recovery point into an empty database"
    )
    restore.add_argument("recovery_point")
    restore.add_argument("--to", required=True, metavar="DATABASE_URL", help="target database")
    restore.add_argument("--documents", metavar="DIR", type=Path, help="restore documents here")
    restore.add_argument("--force", action="store_true", help="replace a non-empty target")
    restore.add_argument(
        "--into-source",
        metavar="CONNECTION",
        help="allow --to to be this source connection's own database (refused otherwise)",
    )
    restore.add_argument(
        "--no-owner",
        action="store_true",
        help="do not give objects their recorded owners (as pg_restore --no-owner)",
    )
    restore.add_argument(
        "--no-privileges",
        action="store_true",
        help="do not apply recorded grants (as pg_restore --no-privileges)",
    )
    restore.add_argument("--json", action="store_true", help="print JSON")
    restore.set_defaults(handler=run_restore)

    clean = commands.add_parser(
        "cleanup", parents=[common], help="remove what interrupted backups left behind"
    )
    clean.add_argument("client", nargs="?", type=arguments.client_id)
    clean.add_argument("--grace", default="6h", help="leave younger attempts alone (6h)")
    clean.add_argument(
        "--delete-unknown",
        action="store_true",
        help="also delete stored objects the catalog has no row for (kept by default)",
    )
    clean.set_defaults(handler=run_cleanup)

    keys = commands.add_parser("keys", help="client keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    listing = keys_sub.add_parser("list", parents=[common], help="custody state, fingerprints")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_keys_list)


def run_backup(args: argparse.Namespace) -> int:
    """Back one client up now (refused when its backup option is off)."""
    service = bootstrap.load_installation(args.home).backup_service()
    settle_heap()
    with progress_shown(f"backup {args.client}") as progress:
        result = service.backup(args.client, requested_by=args.requested_by, progress=progress)
    if args.json:
        print_json(result)
    else:
        print(
            f"recovery point {result.recovery_point_id} complete: {result.tables} tables, "
            f"{result.rows} rows, {result.documents} documents, {result.size} bytes "
            f"in {result.store} (sha256 {result.sha256})"
        )
    return 0


def run_points(args: argparse.Namespace) -> int:
    """Recovery points with id, store, key, size, SHA-256, status and creation time."""
    catalog = bootstrap.load_installation(args.home).catalog
    points = catalog.list_recovery_points(arguments.known_client(catalog, args.client))
    rows: list[dict[str, Any]] = [
        {
            "id": p.id,
            "client": p.client_id,
            "store": p.store,
            "key": p.key,
            "size": p.size,
            "sha256": p.sha256,
            "status": p.status,
            "created_at": p.created_at,
        }
        for p in points
    ]
    if args.json:
        print_json(rows)
        return 0
    # every field of the JSON, the SHA-256 in full: auditors compare it with the store's
    print_table(
        ["ID", "CLIENT", "STORE", "KEY", "SIZE", "STATUS", "CREATED", "SHA256"],
        [
            [
                r["id"],
                r["client"],
                r["store"],
                r["key"],
                r["size"],
                r["status"],
                r["created_at"],
                r["sha256"] or "",
            ]
            for r in rows
        ],
    )
    return 0


def _print_report(report: ReadReport, as_json: bool, verb: str, note: str | None = None) -> int:
    if as_json:
        print_json({**report.__dict__, "ok": report.ok})
    else:
        print(
            f"{verb} {report.recovery_point_id} of {report.client_id}: {report.tables} tables, "
            f"{report.rows} rows, {report.documents} documents"
        )
        if note:
            print(f"  {note}")
        for problem in report.problems:
            print(f"  MISMATCH {problem}")
        for caveat in report.notes:
            print(f"  NOTE {caveat}")
        if not report.ok:
            print("verification: FAILED")
        else:
            print("verification: OK, rows only" if report.notes else "verification: OK")
    return 0 if report.ok else 1


def run_verify(args: argparse.Namespace) -> int:
    """Check a recovery point end to end without writing anything."""
    service = bootstrap.load_installation(args.home).restore_service()
    settle_heap()
    with progress_shown(f"verify {args.recovery_point}") as progress:
        report = service.verify(args.recovery_point, progress=progress)
    return _print_report(report, args.json, "verified")


def run_restore(args: argparse.Namespace) -> int:
    """Restore into an empty database (and folder), then compare with the manifest."""
    service = bootstrap.load_installation(args.home).restore_service()
    settle_heap()
    try:
        with progress_shown(f"restore {args.recovery_point}") as progress:
            report = service.restore(
                args.recovery_point,
                args.to,
                documents_to=args.documents,
                force=args.force,
                into_source=args.into_source,
                options=RestoreOptions(owners=not args.no_owner, privileges=not args.no_privileges),
                progress=progress,
            )
    except KeyboardInterrupt:
        print(
            "interrupted: the target may hold part of this restore; run it again with "
            "--force to replace that part",
            file=sys.stderr,
        )
        return 130
    note = None
    if report.documents and args.documents is None:
        note = "the documents were checked, not written: pass --documents DIR to restore them"
    return _print_report(report, args.json, "restored", note)


def run_cleanup(args: argparse.Namespace) -> int:
    """Remove leftovers of interrupted backups, older than the grace period."""
    installation = bootstrap.load_installation(args.home)
    try:
        grace: timedelta = parse_duration(args.grace)
    except ValueError as exc:
        raise ConfigError(f"--grace: {exc}") from None
    catalog = installation.catalog
    arguments.known_client(catalog, args.client)
    clients = [args.client] if args.client else [c.client_id for c in catalog.list_clients()]
    run = cleanup.cleanup_clients(
        catalog,
        clients,
        installation.store,
        datetime.now(UTC),
        grace=grace,
        delete_unknown=args.delete_unknown,
    )
    for client, report in run.reports.items():
        print(
            f"{client}: {report.aborted_uploads} unfinished uploads aborted, "
            f"{report.deleted_versions} leftover versions deleted "
            f"({report.unknown_objects} unknown to the catalog), "
            f"{len(report.abandoned_points)} abandoned attempts marked failed"
        )
        if report.unknown_kept:
            print(
                f"{client}: {report.unknown_kept} stored objects unknown to the catalog were "
                "kept: no backup leaves one (its catalog row comes first), so this catalog may "
                "be an older copy, a new one or the wrong one; check it, then rerun with "
                "--delete-unknown to remove them",
                file=sys.stderr,
            )
        leftovers = report.archive
        if leftovers.deleted or leftovers.abandoned:
            print(
                f"{client}: {leftovers.deleted} leftover archive versions deleted, "
                f"{len(leftovers.abandoned)} interrupted archive copies marked failed"
            )
        for store, key, until in leftovers.locked:
            print(
                f"{client}: a leftover archive version of {key} in store {store} is under lock "
                f"until {until:%Y-%m-%d}; it is deleted by the first cleanup after that"
            )
        if report.foreign_kept:
            print(
                f"{client}: {report.foreign_kept} objects under {client}/ are not of its "
                "layout (another store's root may lie inside this one) and were left alone; "
                "run: retention-pipeline config check",
                file=sys.stderr,
            )
    for client, error in run.failures.items():
        print(f"{client}: cleanup failed: {error}", file=sys.stderr)
    if run.failures:
        print(
            f"error: cleanup failed for {len(run.failures)} client(s); see above", file=sys.stderr
        )
        return 1
    return 0


def run_keys_list(args: argparse.Namespace) -> int:
    """Client keys: custody, state and fingerprints; never secrets.

    ``state`` is the catalog's; ``kek_state`` is what the custody says of the key that
    wraps it now (a KMS key someone disabled shows ``disabled`` there while the catalog
    still says ``active``).
    """
    installation = bootstrap.load_installation(args.home)
    catalog = installation.catalog
    rows: list[dict[str, Any]] = [
        {
            "client": k.client_id,
            "custody": k.custody,
            "state": k.state,
            "kek_state": _kek_state(installation, k),
            "fingerprint": k.fingerprint,
            "recipient": k.recipient,
            "created_at": k.created_at,
            "destroyed_at": k.destroyed_at,
            "deletion_date": k.deletion_date,
        }
        for k in catalog.list_client_keys()
    ]
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["CLIENT", "CUSTODY", "STATE", "KEK", "FINGERPRINT", "CREATED"],
        [
            [
                r["client"],
                r["custody"],
                r["state"],
                r["kek_state"],
                r["fingerprint"][:16],
                r["created_at"],
            ]
            for r in rows
        ],
    )
    return 0


def _kek_state(installation: bootstrap.Installation, key: ClientKey) -> str:
    """The custody's word on a live key's KEK; never fails the listing."""
    if key.state != "active" or key.custody != installation.custody.kind:
        return "-"
    try:
        return installation.custody.state(key.client_id, key.kek_id).state
    except RetentionError as error:
        return f"unknown ({type(error).__name__})"
