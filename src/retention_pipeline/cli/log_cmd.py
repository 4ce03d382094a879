"""``log verify`` and ``log checkpoint-evidence``: prove the evidence log was not edited,
pruned, cut short or reordered.

Every entry carries the SHA-256 of the one before it, so one recomputation from the
first entry finds the first entry that was tampered with; the catalog's head row and the
signed checkpoints kept in the witness store (``services.evidence_witness``) show a cut
of the newest entries or a deleted log. Exit code 1 names the last trusted entry.
"""

from __future__ import annotations

import argparse
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli import certificate_cmd
from retention_pipeline.cli.output import print_json


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``log`` and its subcommands to the top-level parser."""
    log = commands.add_parser("log", help="the evidence log")
    sub = log.add_subparsers(dest="log_command", metavar="SUBCOMMAND", required=True)
    verify = sub.add_parser(
        "verify", parents=[common], help="check the hash chain against the witnessed checkpoints"
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=run_verify)
    witness = sub.add_parser(
        "checkpoint-evidence",
        parents=[common],
        help="sign the evidence log's checkpoint into the witness store",
    )
    witness.add_argument("--json", action="store_true", help="print JSON")
    witness.set_defaults(handler=run_checkpoint_evidence)
    certificate_cmd.register_log(sub, common)


def run_verify(args: argparse.Namespace) -> int:
    """Recompute the chain and compare it with the witness; 1 naming the last trusted entry."""
    verdict = bootstrap.load_installation(args.home).evidence_witness().verify()
    if args.json:
        print_json(
            {
                "ok": verdict.ok,
                "checked": verdict.entries,
                "first_bad_seq": verdict.first_bad_seq,
                "last_trusted_seq": verdict.last_trusted_seq,
                "witness": verdict.witness,
                "checkpoint_size": verdict.checkpoint_size,
                "reason": verdict.reason,
            }
        )
    elif verdict.ok:
        print(f"evidence log intact: {verdict.reason}")
    else:
        trusted = verdict.last_trusted_seq or "none"
        print(
            f"evidence log FAILED at entry {verdict.first_bad_seq}: {verdict.reason}; "
            f"last trusted entry: {trusted}"
        )
    return 0 if verdict.ok else 1


def run_checkpoint_evidence(args: argparse.Namespace) -> int:
    """Verify the log, then sign its checkpoint into the witness (idempotent per size)."""
    written = bootstrap.load_installation(args.home).evidence_witness().write(bootstrap.utc_now())
    if args.json:
        print_json(
            {
                "witness": written.witness,
                "size": written.size,
                "key": written.key,
                "written": written.written,
            }
        )
    elif written.written:
        print(f"evidence checkpoint of {written.size} entries written to store "
              f"{written.witness!r} as {written.key}")  # fmt: skip
    else:
        print(f"evidence checkpoint of {written.size} entries already in store "
              f"{written.witness!r} ({written.key})")  # fmt: skip
    return 0
