"""Use cases around client policies: validate, plan, apply, show, history.

The order form is the contract: a client's policy file is read, checked against the
installation's stores and connections, and each change is recorded as a new policy
version in the catalog (who, when, which fields) before anything acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from retention_pipeline.domain.documents import Problem
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.domain.policy_plan import ClientPlan, plan_policies
from retention_pipeline.domain.settings import Settings
from retention_pipeline.errors import NotFoundError, PolicyError
from retention_pipeline.ports.catalog import Catalog, PolicyVersion
from retention_pipeline.services.client_keys import ClientKeyring
from retention_pipeline.services.policy_check import (
    check_policy_text,
    load_policies,
    read_policy_text,
)
from retention_pipeline.services.tombstones import tombstones


@dataclass(frozen=True)
class LoadedPolicies:
    """Policies read from a file or a folder, and whether that was the whole folder."""

    policies: dict[str, ClientPolicy]
    complete: bool
    source: str = "policies"  # the file or folder read, to name in problems


def read_policies(path: Path, settings: Settings | None, *, policies_dir: Path) -> LoadedPolicies:
    """Read one policy file or a folder of them; raise ``PolicyError`` with every problem.

    Reading the installation's own policy folder is ``complete``: a client missing there
    is a removed client. A single file, or another folder, never removes anyone.
    """
    problems: list[Problem]
    if path.is_dir():
        policies, problems = load_policies(path, settings)
        complete = path.resolve() == policies_dir.resolve()
    elif path.is_file():
        text, problems = read_policy_text(path)
        policy = None
        if text is not None:
            policy, problems = check_policy_text(text, str(path), settings)
        policies = {policy.client: policy} if policy is not None and not problems else {}
        complete = False
    else:
        raise PolicyError([f"{path}:1: -: no such policy file or folder; check the path"])
    if problems:
        raise PolicyError([str(p) for p in problems])
    return LoadedPolicies(policies, complete, str(path))


def current_documents(catalog: Catalog) -> dict[str, dict[str, object] | None]:
    """Each known client's current policy document (``None`` once removed)."""
    current: dict[str, dict[str, object] | None] = {}
    for client in catalog.list_clients():
        latest = catalog.latest_policy(client.client_id)
        current[client.client_id] = latest.document if latest is not None else None
    return current


def plan(catalog: Catalog, loaded: LoadedPolicies) -> list[ClientPlan]:
    """What ``apply`` would record, client by client.

    An erased client's policy file is a problem (``services.tombstones``): applying it
    would undo the erasure's scrubbing. An erased client missing from a complete folder
    is not "removed" either: it is erased, and nothing is recorded for it any more.
    """
    erased = tombstones(catalog)
    refused = [
        f"{loaded.source}:1: client: {client_id} was {erased[client_id].describe()}; its id "
        "is a tombstone and nothing can be processed for it again; remove its policy file "
        "(a new contract takes a new client id)"
        for client_id in sorted(loaded.policies)
        if client_id in erased
    ]
    if refused:
        raise PolicyError(refused)
    desired = {cid: p.to_document() for cid, p in loaded.policies.items()}
    current = {cid: doc for cid, doc in current_documents(catalog).items() if cid not in erased}
    return plan_policies(current, desired, complete=loaded.complete)


def apply(
    catalog: Catalog,
    plans: list[ClientPlan],
    loaded: LoadedPolicies,
    *,
    actor: str,
    now: datetime,
) -> list[PolicyVersion]:
    """Record one policy version per added, changed or removed client.

    Each version carries the full document, the field-by-field diff and the actor; the
    catalog writes the matching evidence-log entry in the same transaction.
    """
    recorded: list[PolicyVersion] = []
    for item in plans:
        if not item.records_version:
            continue
        policy = loaded.policies.get(item.client_id)
        recorded.append(
            catalog.record_policy_version(
                item.client_id,
                item.document,
                [{"path": c.path, "old": c.old, "new": c.new} for c in item.changes],
                actor,
                now,
                policy.display_name if policy is not None else None,
            )
        )
    return recorded


def activate_keys(
    keyring: ClientKeyring, loaded: LoadedPolicies, now: datetime
) -> list[tuple[str, str]]:
    """Give each client whose policy activates an option its key pair, now.

    The order form's protection starts when the option is activated, not at the first
    backup: from then on the public recipient is in the catalog for any worker. Clients
    whose key was destroyed (erased) are skipped. Returns (client, fingerprint) of the
    keys this call created.
    """
    created: list[tuple[str, str]] = []
    for client_id, policy in sorted(loaded.policies.items()):
        if not policy.processes_anything or not policy.protection.hoster_can_decrypt:
            continue
        if keyring.catalog.get_client_key(client_id) is not None:
            continue
        key = keyring.ensure_key(client_id, now)
        created.append((client_id, key.fingerprint))
    return created


def current_policy(catalog: Catalog, client_id: str) -> ClientPolicy | None:
    """The client's policy in force, or ``None`` (no policy means nothing is processed)."""
    latest = catalog.latest_policy(client_id)
    if latest is None or latest.document is None:
        return None
    return ClientPolicy.from_document(latest.document)


def history(catalog: Catalog, client_id: str) -> list[PolicyVersion]:
    """Every recorded version of a client's policy, oldest first."""
    versions = catalog.policy_history(client_id)
    if not versions:
        raise NotFoundError(
            f"client {client_id!r} has no recorded policy; "
            "apply its policy file first (retention-pipeline policy apply)"
        )
    return versions
