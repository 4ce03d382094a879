"""``init``, ``config check`` and ``clients``: the installation itself.

``init`` writes a commented example configuration so a new operator starts from a file
that validates, and creates the folders with safe permissions (keys are 0700).
"""

from __future__ import annotations

import argparse
import stat
import sys
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.cli.output import print_json, print_table
from retention_pipeline.domain.settings import default_config_text
from retention_pipeline.errors import ConfigError, RetentionError
from retention_pipeline.services import policies
from retention_pipeline.services.tombstones import tombstones


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add this module's commands to the top-level parser."""
    init = commands.add_parser(
        "init", parents=[common], help="create a home folder with an example configuration"
    )
    init.set_defaults(handler=run_init)

    config = commands.add_parser("config", help="check the installation's configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser(
        "check", parents=[common], help="validate retention.yaml and report every problem"
    )
    check.set_defaults(handler=run_config_check)

    clients = commands.add_parser(
        "clients", parents=[common], help="list clients known to the catalog"
    )
    clients.add_argument("--json", action="store_true", help="print JSON")
    clients.set_defaults(handler=run_clients)


def run_init(args: argparse.Namespace) -> int:
    """Create the home folder, its sub-folders and a commented ``retention.yaml``."""
    home = bootstrap.resolve_home(args.home)
    config = home / bootstrap.CONFIG_FILE
    if config.exists():
        raise ConfigError(f"{config}: already exists; edit it, or choose another --home")
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / bootstrap.POLICIES_DIR).mkdir(exist_ok=True)
        keys = home / "keys"
        keys.mkdir(exist_ok=True)
        keys.chmod(stat.S_IRWXU)
        (home / "reports").mkdir(exist_ok=True)
        config.write_text(default_config_text(), encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"--home {home}: cannot create the home folder there ({error.strerror}); "
            "choose a folder path this user may create"
        ) from None
    print(f"created {config}")
    print(f"put one policy file per client in {home / bootstrap.POLICIES_DIR}/CLIENT.yaml")
    print("then: retention-pipeline policy validate && retention-pipeline policy apply")
    return 0


def run_config_check(args: argparse.Namespace) -> int:
    """Validate the configuration, then open and probe every store.

    A configuration problem raises ``ConfigError`` (exit code 2). A store that cannot take
    a backup now (missing bucket or folder, no access, versioning off) is reported on its
    own line and the command exits 1, after probing the others.
    """
    installation = bootstrap.load_installation(args.home)
    settings = installation.settings
    print(
        f"{installation.home / bootstrap.CONFIG_FILE}: ok "
        f"({len(settings.stores)} stores, {len(settings.connections)} connections)"
    )
    failed = 0
    for name in sorted(settings.stores):
        try:
            installation.store(name).probe()
        except RetentionError as error:
            failed += 1
            print(f"store {name}: FAILED: {error}", file=sys.stderr)
        else:
            print(f"store {name}: ok")
    failed += _check_catalog_and_keys(installation)
    return 1 if failed else 0


def _check_catalog_and_keys(installation: bootstrap.Installation) -> int:
    """Open the catalog (never creating it), then ask the custody about one client key.

    One key is enough to find a missing, unreadable or replaced master key file (every
    local key shares it) or KMS credentials that do not work. Returns the failures.
    """
    from retention_pipeline.adapters.catalog import CatalogMissingError

    try:
        keys = installation.catalog.list_client_keys()
    except CatalogMissingError as missing:
        traces = installation.traces_of_use()
        if traces:
            print(
                f"catalog: FAILED: {missing} (this installation was used before: "
                f"{'; '.join(traces)})",
                file=sys.stderr,
            )
            return 1
        print("catalog: none yet (`retention-pipeline policy apply` creates it)")
        return 0
    except RetentionError as error:
        print(f"catalog: FAILED: {error}", file=sys.stderr)
        return 1
    print("catalog: ok")
    live = [key for key in keys if key.wrapped is not None]
    if not live:
        return 0
    try:
        installation.custody.state(live[0].client_id, live[0].kek_id)
    except RetentionError as error:
        print(f"key custody: FAILED: {error}", file=sys.stderr)
        return 1
    print(f"key custody: ok ({installation.settings.key_custody.kind})")
    return 0


def _state(row: dict[str, Any]) -> str:
    if row["erased"]:
        return f"erased {row['erased']['at']:%Y-%m-%d} ({row['erased']['certificate']})"
    return "removed" if row["removed"] else "active"


def run_clients(args: argparse.Namespace) -> int:
    """Clients in the catalog with their current policy version and options."""
    installation = bootstrap.load_installation(args.home)
    catalog = installation.catalog
    erased = tombstones(catalog)
    rows: list[dict[str, object]] = []
    for client in catalog.list_clients():
        gone = erased.get(client.client_id)
        # an erased client's last version still reads as active: nothing runs for it
        policy = None if gone else policies.current_policy(catalog, client.client_id)
        rows.append(
            {
                "client": client.client_id,
                "policy_version": client.current_version,
                "backup": policy.backup.mode if policy else "off",
                "archive": bool(policy and policy.archive_active),
                "removed": client.removed,
                "erased": None
                if gone is None
                else {"at": gone.erased_at, "certificate": gone.certificate_id},
            }
        )
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["CLIENT", "POLICY", "BACKUP", "ARCHIVE", "STATE"],
            [
                [
                    r["client"],
                    f"v{r['policy_version']}",
                    r["backup"],
                    "on" if r["archive"] else "off",
                    _state(r),
                ]
                for r in rows
            ],
        )
    return 0
