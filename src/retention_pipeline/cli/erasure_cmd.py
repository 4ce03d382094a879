"""``erase CLIENT``: certified erasure from the command line (plus the certificate commands).

Prints ids, counts and dates only. ``--dry-run`` prints the full scope, per store, and
whether a gate would refuse, and deletes nothing.
"""

from __future__ import annotations

import argparse
from typing import Any, get_args

from retention_pipeline import bootstrap
from retention_pipeline.cli import arguments, certificate_cmd
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.ports.catalog import ErasureTrigger
from retention_pipeline.services.erasure import ErasureOutcome


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``erase`` and the ``certificate`` commands to the top-level parser."""
    erase = commands.add_parser(
        "erase", parents=[common], help="erase every copy of a client and certify it"
    )
    erase.add_argument("client", type=arguments.client_id)
    erase.add_argument("--trigger", required=True, choices=get_args(ErasureTrigger))
    erase.add_argument(
        "--requested-by", required=True, metavar="ID", type=arguments.staff_id, help="staff id"
    )
    erase.add_argument(
        "--approved-by", default=None, metavar="ID", type=arguments.staff_id, help="second staff id"
    )
    erase.add_argument(
        "--request-ref",
        default=None,
        metavar="REF",
        type=arguments.reference,
        help="ticket reference (an id, not a name)",
    )
    erase.add_argument("--dry-run", action="store_true", help="print the scope, delete nothing")
    erase.add_argument("--json", action="store_true", help="print JSON")
    erase.set_defaults(handler=run_erase)
    certificate_cmd.register(commands, common)


def run_erase(args: argparse.Namespace) -> int:
    """Run (or preview) one client's erasure."""
    service = bootstrap.load_installation(args.home).erasure_service()
    outcome = service.erase(
        args.client,
        trigger=args.trigger,
        requested_by=args.requested_by,
        approved_by=args.approved_by,
        request_ref=args.request_ref,
        dry_run=args.dry_run,
    )
    if args.json:
        print_json(outcome)
    elif outcome.dry_run:
        _print_scope(outcome)
    else:
        _print_outcome(outcome)
    return 0


def _print_scope(outcome: ErasureOutcome) -> None:
    print(f"dry run: erasure scope of {outcome.client_id} (nothing was deleted)")
    headers = ["STORE", "LOCATION", "OBJECTS", "VERSIONS", "MARKERS", "UPLOADS", "BYTES"]
    headers += ["UNKNOWN", "LOCKED", "LEFT ALONE"]
    keys = ["store", "location", "objects", "versions", "delete_markers", "unfinished_uploads"]
    keys += ["bytes", "unknown_to_catalog", "locked", "left_alone"]
    print_table(headers, [[row[k] for k in keys] for row in outcome.stores])
    key = outcome.key
    if key is None:
        print("client key: none held by the hoster")
    else:
        print(f"client key: {key['custody']} custody, {key['state']}, {key['fingerprint']}")
    rows = ", ".join(f"{n} {name}" for name, n in sorted(outcome.catalog_rows.items()))
    print(f"catalog rows: {rows}")
    if outcome.refused:
        print(f"would be refused: {outcome.refused}")


def _print_outcome(outcome: ErasureOutcome) -> None:
    line = (
        f"erasure of {outcome.client_id} {outcome.status} (request {outcome.request_id}): "
        f"certificate {outcome.certificate_id}"
    )
    if outcome.supersedes:
        line += f", supersedes {outcome.supersedes}"
    print(line)
    for until in outcome.residual_until:
        print(f"  residual copies under lock until {until} (crypto-erased; deleted then)")
    for store, count in sorted(outcome.left_alone.items()):
        print(
            f"  {count} object(s) in store {store} under {outcome.client_id}/ are not of its "
            "layout and were left alone (another store's root may lie inside this one)"
        )
    for destination in outcome.delivered_to:
        print(f"  delivered to {destination}")
