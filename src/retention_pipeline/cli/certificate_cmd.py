"""``certificate pubkey|verify|list`` and ``log checkpoint|consistency|verify-consistency``.

``certificate verify`` and ``log verify-consistency`` are offline: they read files and a
public key, never the catalog or the network, so a client or an auditor can run them on
a machine of their own. Any failed check exits 1 with one line that says what failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli import arguments
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.envelope.bundle import load_bundle, verify_bundle
from retention_pipeline.envelope.canonical import canonical_json
from retention_pipeline.envelope.signing_key import (
    load_public_key_pem,
    public_key_pem,
    signing_key_fingerprint,
)
from retention_pipeline.errors import ConfigError, RetentionError
from retention_pipeline.services.transparency import verify_consistency


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``certificate`` and its subcommands to the top-level parser."""
    certificate = commands.add_parser("certificate", help="destruction certificates")
    sub = certificate.add_subparsers(dest="certificate_command", metavar="SUBCOMMAND")
    sub.required = True
    pubkey = sub.add_parser("pubkey", parents=[common], help="print the certificate public key")
    pubkey.set_defaults(handler=run_pubkey)
    verify = sub.add_parser("verify", parents=[common], help="check a bundle offline")
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--pubkey", type=Path, required=True, metavar="PEM")
    verify.set_defaults(handler=run_verify)
    listing = sub.add_parser("list", parents=[common], help="certificates in the catalog")
    listing.add_argument("client", nargs="?", type=arguments.client_id)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)


def register_log(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the certificate-log subcommands under ``log``."""
    checkpoint = sub.add_parser(
        "checkpoint", parents=[common], help="print the signed checkpoint of the certificate log"
    )
    checkpoint.add_argument("--size", type=int, default=None, help="of the first N leaves")
    checkpoint.set_defaults(handler=run_checkpoint)
    consistency = sub.add_parser(
        "consistency", parents=[common], help="print a consistency proof between two sizes"
    )
    consistency.add_argument("old_size", type=int)
    consistency.add_argument("new_size", type=int)
    consistency.set_defaults(handler=run_consistency)
    check = sub.add_parser(
        "verify-consistency", parents=[common], help="check a consistency proof offline"
    )
    check.add_argument("old_checkpoint", type=Path)
    check.add_argument("new_checkpoint", type=Path)
    check.add_argument("proof", type=Path)
    check.add_argument("--pubkey", type=Path, required=True, metavar="PEM")
    check.set_defaults(handler=run_verify_consistency)


def run_pubkey(args: argparse.Namespace) -> int:
    """The PEM public key on stdout, its fingerprint on stderr (never creates a key).

    stdout holds the PEM alone, so ``certificate pubkey > key.pem`` is a file that
    ``openssl pkey -pubin`` and ``certificate verify --pubkey`` read as it is.
    """
    key = bootstrap.load_installation(args.home).signing_key(create=False)
    print(public_key_pem(key), end="")
    print(f"fingerprint: {signing_key_fingerprint(key.public_key())}", file=sys.stderr)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Signature, statement, inclusion proof and checkpoint, from two files only."""
    try:
        public_key = load_public_key_pem(_read(args.pubkey), str(args.pubkey))
        verified = verify_bundle(load_bundle(_read(args.bundle), str(args.bundle)), public_key)
    except RetentionError as error:
        print(f"certificate verification FAILED: {error}", file=sys.stderr)
        return 1
    p = verified.predicate
    print(
        f"certificate {p.certificate_id} verified: client {p.client_id}, status {p.status}, "
        f"leaf {verified.leaf_index} of a log of {verified.tree_size}, "
        f"key {verified.key_fingerprint}"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Certificates with status, leaf, what they supersede and where they were delivered."""
    catalog = bootstrap.load_installation(args.home).catalog
    rows: list[dict[str, Any]] = [
        {
            "id": c.id,
            "client": c.client_id,
            "status": c.status,
            "issued_at": c.issued_at,
            "leaf_index": c.leaf_index,
            "supersedes": c.supersedes,
            "erasure_request": c.erasure_request_id,
            "envelope_sha256": c.envelope_sha256,
            "delivered_to": list(c.delivered_to),
        }
        for c in catalog.list_certificates(arguments.known_client(catalog, args.client))
    ]
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["ID", "CLIENT", "STATUS", "ISSUED", "LEAF", "SUPERSEDES"],
        [
            [r["id"], r["client"], r["status"], r["issued_at"], r["leaf_index"], r["supersedes"]]
            for r in rows
        ],
    )
    return 0


def run_checkpoint(args: argparse.Namespace) -> int:
    """The newest signed checkpoint (or the one of the first ``--size`` leaves)."""
    log = bootstrap.load_installation(args.home).certificate_log()
    print(log.checkpoint(args.size), end="")
    return 0


def run_consistency(args: argparse.Namespace) -> int:
    """The consistency proof as one line of canonical JSON."""
    log = bootstrap.load_installation(args.home).certificate_log()
    print(canonical_json(log.consistency(args.old_size, args.new_size)).decode("ascii"))
    return 0


def run_verify_consistency(args: argparse.Namespace) -> int:
    """Check, offline, that the new checkpoint's log extends the old one's."""
    try:
        public_key = load_public_key_pem(_read(args.pubkey), str(args.pubkey))
        old, new = verify_consistency(
            _read(args.old_checkpoint).decode("utf-8"),
            _read(args.new_checkpoint).decode("utf-8"),
            _read(args.proof),
            public_key,
        )
    except (RetentionError, UnicodeDecodeError) as error:
        print(f"consistency verification FAILED: {error}", file=sys.stderr)
        return 1
    print(f"log {old.origin}: size {new.size} extends size {old.size} (consistency verified)")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}); check the path") from None
