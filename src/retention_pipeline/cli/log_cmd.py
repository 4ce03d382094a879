"""``log verify``: prove the evidence log was not edited, pruned or reordered.

Every entry carries the SHA-256 of the one before it, so one recomputation from the
first entry finds the first entry that was tampered with; exit code 1 names it.
"""

from __future__ import annotations

import argparse
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli import certificate_cmd
from retention_pipeline.cli.output import print_json
from retention_pipeline.domain.evidence import verify_chain


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``log`` and its subcommands to the top-level parser."""
    log = commands.add_parser("log", help="the evidence log")
    sub = log.add_subparsers(dest="log_command", metavar="SUBCOMMAND", required=True)
    verify = sub.add_parser("verify", parents=[common], help="check the hash chain")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=run_verify)
    certificate_cmd.register_log(sub, common)


def run_verify(args: argparse.Namespace) -> int:
    """Recompute the chain; exit 0 when intact, 1 naming the first bad entry."""
    catalog = bootstrap.load_installation(args.home).catalog
    verdict = verify_chain(catalog.evidence_entries())
    if args.json:
        print_json(
            {
                "ok": verdict.ok,
                "checked": verdict.checked,
                "first_bad_seq": verdict.first_bad_seq,
                "reason": verdict.reason,
            }
        )
    elif verdict.ok:
        print(f"evidence log intact: {verdict.checked} entries verified")
    else:
        print(
            f"evidence log BROKEN at entry {verdict.first_bad_seq}: {verdict.reason} "
            f"({verdict.checked} entries checked)"
        )
    return 0 if verdict.ok else 1
