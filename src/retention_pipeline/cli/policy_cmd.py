"""``policy validate | apply | schema | show | history``: the order forms.

Validation reports every problem of every file as ``FILE:LINE: field: what; what to do``
and exits 2, so an operator fixes a whole folder in one pass. ``apply`` prints the plan
before recording anything, and records nothing for unchanged files.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli import arguments
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.domain.ids import OPAQUE_ID_ALPHABET, STAFF_ID
from retention_pipeline.domain.policy import policy_json_schema
from retention_pipeline.domain.policy_plan import ClientPlan, shown_value
from retention_pipeline.errors import InvalidInputError, NotFoundError, RefusedError
from retention_pipeline.ports.catalog import PolicyVersion
from retention_pipeline.services import policies
from retention_pipeline.services.tombstones import tombstone


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``policy`` and its subcommands to the top-level parser."""
    policy = commands.add_parser("policy", help="validate, apply and inspect client policies")
    sub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)

    validate = sub.add_parser("validate", parents=[common], help="check policy files")
    validate.add_argument("path", nargs="?", help="a policy file or folder (default: policies/)")
    validate.set_defaults(handler=run_validate)

    apply = sub.add_parser("apply", parents=[common], help="record changed policies")
    apply.add_argument("path", nargs="?", help="a policy file or folder (default: policies/)")
    apply.add_argument(
        "--actor", default=None, type=arguments.staff_id, help="who applies (default: the OS user)"
    )
    apply.add_argument("--dry-run", action="store_true", help="print the plan only")
    apply.add_argument(
        "--new-catalog",
        action="store_true",
        help="start an empty catalog although this installation was used before",
    )
    apply.set_defaults(handler=run_apply)

    schema = sub.add_parser("schema", parents=[common], help="print the policy JSON Schema")
    schema.set_defaults(handler=run_schema)

    show = sub.add_parser("show", parents=[common], help="print a client's current policy")
    show.add_argument("client", type=arguments.client_id)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_show)

    hist = sub.add_parser("history", parents=[common], help="list a client's policy versions")
    hist.add_argument("client", type=arguments.client_id)
    hist.add_argument("--json", action="store_true", help="print JSON")
    hist.set_defaults(handler=run_history)


def _loaded(args: argparse.Namespace) -> tuple[bootstrap.Installation, policies.LoadedPolicies]:
    installation = bootstrap.load_installation(args.home)
    path = Path(args.path) if args.path else installation.policies_dir
    loaded = policies.read_policies(
        path, installation.settings, policies_dir=installation.policies_dir
    )
    return installation, loaded


def run_validate(args: argparse.Namespace) -> int:
    """Validate files; ``PolicyError`` carries every problem (exit code 2)."""
    _, loaded = _loaded(args)
    count = len(loaded.policies)
    print(f"{count} polic{'y' if count == 1 else 'ies'} valid")
    return 0


def print_plan(plans: list[ClientPlan]) -> None:
    """Print added, changed (field by field) and removed clients."""
    marks = {"added": "+", "changed": "~", "removed": "-", "unchanged": "="}
    for item in plans:
        print(f"{marks[item.kind]} {item.client_id}: {item.kind}")
        if item.kind == "changed":
            for change in item.changes:
                old = shown_value(change.path, change.old)
                new = shown_value(change.path, change.new)
                print(f"    {change.path}: {old} -> {new}")
    counts = {k: sum(1 for p in plans if p.kind == k) for k in marks}
    print(
        f"plan: {counts['added']} added, {counts['changed']} changed, "
        f"{counts['removed']} removed, {counts['unchanged']} unchanged"
    )


def run_apply(args: argparse.Namespace) -> int:
    """Print the plan, then record a policy version per changed client."""
    installation, loaded = _loaded(args)
    actor = args.actor or getpass.getuser()
    if not STAFF_ID.fullmatch(actor):  # e.g. an SSSD login "first.last@corp.example"
        raise InvalidInputError(
            f"the login name is not a staff id ({OPAQUE_ID_ALPHABET}), and it "
            "would be kept in the evidence log; pass --actor ID"
        )
    apply_and_report(
        installation,
        loaded,
        actor=actor,
        now=datetime.now(UTC),
        dry_run=args.dry_run,
        new_catalog=args.new_catalog,
    )
    return 0


def apply_and_report(
    installation: bootstrap.Installation,
    loaded: policies.LoadedPolicies,
    *,
    actor: str,
    now: datetime,
    dry_run: bool = False,
    new_catalog: bool = False,
) -> None:
    """Print the plan, record the versions as of ``now``, and give new clients their key.

    Applying policies is the one step that may create the catalog (a new installation's
    first); a dry run never does, and plans against an empty one when there is none yet.
    """
    if dry_run:
        print_plan(_dry_plan(installation, loaded))
        print("dry run: nothing recorded")
        return
    _refuse_to_replace_a_lost_catalog(installation, new_catalog)
    installation.create_catalog = True
    catalog = installation.catalog
    plans = policies.plan(catalog, loaded)
    print_plan(plans)
    recorded = policies.apply(catalog, plans, loaded, actor=actor, now=now)
    for version in recorded:
        print(f"recorded {version.client_id} policy v{version.version} by {version.actor}")
    if not recorded:
        print("nothing to record")
    for client_id, fingerprint in policies.activate_keys(installation.keyring, loaded, now):
        print(f"created the client key of {client_id} (fingerprint {fingerprint[:16]})")


def _refuse_to_replace_a_lost_catalog(
    installation: bootstrap.Installation, new_catalog: bool
) -> None:
    """Refuse to start an empty catalog where one was lost (traces of use remain).

    A new installation has neither a master key file nor stored objects; one that has
    them lost its catalog, and an empty one would hand its clients new keys while their
    backups stay encrypted to the old ones.
    """
    from retention_pipeline.adapters.catalog import CatalogMissingError

    try:
        installation.catalog  # noqa: B018 - opening it is the question
    except CatalogMissingError:
        traces = installation.traces_of_use()
        if traces and not new_catalog:
            used = "; ".join(traces)
            raise RefusedError(
                f"there is no catalog, but this installation was used before ({used}): "
                "restore the catalog from its backup, or correct `catalog` in retention.yaml; "
                "to start an empty catalog anyway, pass --new-catalog"
            ) from None


def _dry_plan(
    installation: bootstrap.Installation, loaded: policies.LoadedPolicies
) -> list[ClientPlan]:
    """The plan against the catalog, or against an empty one if the catalog is not made yet."""
    from retention_pipeline.adapters.catalog import CatalogMissingError, open_catalog

    try:
        return policies.plan(installation.catalog, loaded)
    except CatalogMissingError:
        print("no catalog yet: planned against an empty one (applying creates it)")
    with tempfile.TemporaryDirectory(prefix="policy-plan-") as scratch:
        empty = open_catalog(f"sqlite:///{scratch}/plan.db")
        try:
            return policies.plan(empty, loaded)
        finally:
            empty.close()


def run_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of a policy file, for editors' validation and completion."""
    json.dump(policy_json_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the client's current policy document."""
    installation = bootstrap.load_installation(args.home)
    latest = installation.catalog.latest_policy(args.client)
    if latest is None:
        raise NotFoundError(
            f"client {args.client!r} has no recorded policy, so nothing is processed for it"
        )
    gone = tombstone(installation.catalog, args.client)
    if args.json:
        erased = None
        if gone is not None:
            erased = {"at": gone.erased_at, "certificate": gone.certificate_id}
        print_json(
            {
                "client": args.client,
                "version": latest.version,
                "policy": latest.document,
                "erased": erased,
            }
        )
        return 0
    print(f"client {args.client} policy v{latest.version} recorded {latest.recorded_at:%Y-%m-%d}")
    if gone is not None:
        print(
            f"(erased: {gone.describe()}; its personal fields were scrubbed and nothing is "
            "processed for it again)"
        )
    if latest.document is None:
        print("(removed: nothing is processed for this client)")
        return 0
    import yaml

    print(yaml.safe_dump(latest.document, sort_keys=False, allow_unicode=True).rstrip())
    return 0


def _changed_summary(version: PolicyVersion) -> str:
    """What a version changed, in one cell: whole-policy events are named as such."""
    if version.document is None:
        return "removed (nothing processed from here on)"
    if all(c.get("old") is None for c in version.changes):
        return f"created ({len(version.changes)} fields)"
    return ", ".join(c["path"] for c in version.changes)


def run_history(args: argparse.Namespace) -> int:
    """List every version with who recorded it, when, and which fields changed."""
    installation = bootstrap.load_installation(args.home)
    versions = policies.history(installation.catalog, args.client)
    if args.json:
        print_json(
            [
                {
                    "version": v.version,
                    "recorded_at": v.recorded_at,
                    "actor": v.actor,
                    "digest": v.digest,
                    "changed_fields": [c["path"] for c in v.changes],
                    "removed": v.document is None,
                }
                for v in versions
            ]
        )
        return 0
    print_table(
        ["VERSION", "RECORDED", "ACTOR", "CHANGED FIELDS"],
        [
            [
                f"v{v.version}",
                v.recorded_at,
                v.actor,
                _changed_summary(v),
            ]
            for v in versions
        ],
    )
    return 0
