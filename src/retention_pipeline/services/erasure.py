"""Certified erasure of one client (DESIGN section 4, "Erasure").

Ordering, which every change here must keep:

1. legal-hold gate, then approval gate, before any store is contacted: a refusal is
   recorded (request ``refused``, evidence ``erasure.refused``) and no store is listed,
   let alone changed (a dry run lists, and reports the refusal);
2. resolve the scope from every configured store (``erasure_scope``) and the catalog;
3. remember the scope in the request (so a rerun's certificate still covers it), then
   delete in batches, abort unfinished uploads, destroy the client key, scrub the
   client's personal fields from the catalog, mark its recovery points and archive
   copies deleted (locked copies stay, crypto-erased);
4. verify: the stores list nothing but the locked residue, reads of deleted versions
   fail, the client key can no longer be unwrapped, no recovery point is restorable;
5. only then build, sign, log and deliver the certificate (``certificates``).

A failure in 3 or 4 marks the request ``failed`` with what remains, and issues nothing;
running ``erase`` again resumes the same request and converges (every step is
idempotent). ``sweep_residuals`` deletes locked copies once their lock has ended and
issues a certificate that supersedes the previous one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Any

from retention_pipeline.domain import erasure as rules
from retention_pipeline.domain.erasure import Entry, ErasureRefusedError
from retention_pipeline.domain.erasure_record import ErasureRecord
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.errors import NotFoundError, RefusedError, RetentionError
from retention_pipeline.ports.catalog import (
    CLIENT_LOCK_WAIT,
    DONE_ERASURES,
    Catalog,
    ErasureRequest,
    ErasureTrigger,
)
from retention_pipeline.services.certificates import CertificateIssuer
from retention_pipeline.services.client_keys import ClientKeyring
from retention_pipeline.services.erasure_scope import StoreReach, StoreScope
from retention_pipeline.services.erasure_steps import ErasureIncompleteError, ErasureSteps
from retention_pipeline.services.tombstones import tombstone

__all__ = ["ErasureIncompleteError", "ErasureOutcome", "ErasureService", "gates"]

OPEN_STATUSES = ("running", "failed")


@dataclass(frozen=True)
class ErasureOutcome:
    """What an erasure did or would do: ids and counts only (safe for XCom and logs)."""

    client_id: str
    status: str
    request_id: str | None = None
    certificate_id: str | None = None
    supersedes: str | None = None
    dry_run: bool = False
    stores: list[dict[str, Any]] = field(default_factory=list)
    key: dict[str, Any] | None = None
    catalog_rows: dict[str, int] = field(default_factory=dict)
    residual_until: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    refused: str | None = None
    # per store: versions under the client's prefix that are not its own (never deleted)
    left_alone: dict[str, int] = field(default_factory=dict)


@dataclass
class ErasureService:
    """Erase clients and sweep locked residue; wired by bootstrap."""

    catalog: Catalog
    keyring: ClientKeyring
    reach: StoreReach
    issuer: CertificateIssuer
    clock: Callable[[], datetime]
    new_id: Callable[[], str]

    def erase(
        self,
        client_id: str,
        *,
        trigger: ErasureTrigger,
        requested_by: str,
        approved_by: str | None,
        request_ref: str | None = None,
        dry_run: bool = False,
        airflow_run_id: str | None = None,
    ) -> ErasureOutcome:
        """Erase every copy of the client and certify it (see the module docstring).

        The whole erasure holds the client's lock (``Catalog.client_lock``): a backup or a
        second erasure of the client waits, or is refused naming this one. An erased
        client is a tombstone (``services.tombstones``): erasing it again is refused.
        """
        now = self.clock()
        policy = self.last_policy(client_id)
        if dry_run:
            scopes = self.reach.resolve(client_id)  # a dry run only lists, approved or not
            return self._dry_run(policy, scopes, requested_by, approved_by, now)
        with self.catalog.client_lock(client_id, "erasure", wait=CLIENT_LOCK_WAIT):
            gone = tombstone(self.catalog, client_id)
            if gone is not None:
                raise RefusedError(
                    f"client {client_id!r} was already {gone.describe()}; there is nothing "
                    "left to erase (see: retention-pipeline certificate show "
                    f"{gone.certificate_id})"
                )
            request = self._request(policy, trigger, requested_by, approved_by, request_ref, now)
            try:
                gates(policy, requested_by, approved_by)
            except ErasureRefusedError as refusal:
                self._refuse(request, refusal, now)
                raise
            # only an approved erasure contacts a store: not even a listing before the gates
            scopes = self.reach.resolve(client_id)
            steps = ErasureSteps(self.catalog, self.keyring, self.reach)
            record = ErasureRecord(request.details)
            record.start_attempt(now, requested_by, airflow_run_id)
            record.keep_order_form(
                rules.contract_reference(policy.contract.reference), policy.legal_basis
            )
            entries = [entry for scope in scopes for entry in scope.entries]
            record.merge(entries, _locations(policy, scopes))
            self._save(request, "running", record)
            try:
                residual = steps.run(request, record, entries, now)
            except Exception as exc:
                record.fail(_reason(exc))
                self._save(request, "failed", record)
                self.catalog.append_evidence(
                    requested_by,
                    "erasure.failed",
                    {"client": client_id, "erasure_request": request.id},
                    {"reason": type(exc).__name__},
                    now,
                )
                raise
            outcome = self._certify(policy, request, record, residual, now, airflow_run_id)
        return replace(outcome, left_alone=_left_alone(scopes))

    def sweep_residuals(self, now: datetime) -> list[ErasureOutcome]:
        """Delete locked copies whose lock has ended; issue superseding certificates."""
        outcomes = []
        for request in self.catalog.list_erasure_requests():
            if request.status != "completed_with_exceptions":
                continue
            with self.catalog.client_lock(
                request.client_id, "erasure sweep", wait=CLIENT_LOCK_WAIT
            ):
                record = ErasureRecord(request.details)
                steps = ErasureSteps(self.catalog, self.keyring, self.reach)
                remaining = steps.sweep(request, record, now)
                if remaining is None:
                    continue
                policy = self.last_policy(request.client_id)
                outcomes.append(self._certify(policy, request, record, remaining, now, None))
        return outcomes

    def due_for_erasure(self, now: datetime) -> list[str]:
        """Clients whose contract ended more than ``erasure.after_contract_end`` ago, not erased.

        Clients under legal hold are included: ``erase`` refuses them and logs it, so the
        hold stays visible to the operators every day it blocks an erasure.
        """
        due = []
        for client in self.catalog.list_clients():
            policy = self.last_policy(client.client_id)
            ends_on = policy.contract.ends_on
            end = datetime.combine(ends_on, time(), tzinfo=UTC) if ends_on else None
            if not rules.due(end, policy.erasure.after_contract_end, now):
                continue
            requests = self.catalog.list_erasure_requests(client.client_id)
            if not any(r.status in DONE_ERASURES for r in requests):
                due.append(client.client_id)
        return due

    def last_policy(self, client_id: str) -> ClientPolicy:
        """The newest recorded policy document (a removed client keeps its last one)."""
        for version in reversed(self.catalog.policy_history(client_id)):
            if version.document is not None:
                return ClientPolicy.from_document(version.document)
        raise NotFoundError(
            f"client {client_id!r} has no recorded policy; apply its policy file first "
            "(retention-pipeline policy apply)"
        )

    # -- helpers -------------------------------------------------------------------------

    def _request(
        self,
        policy: ClientPolicy,
        trigger: ErasureTrigger,
        requested_by: str,
        approved_by: str | None,
        request_ref: str | None,
        now: datetime,
    ) -> ErasureRequest:
        """Resume the client's unfinished request, or record a new one."""
        from retention_pipeline.ports.catalog import NewErasureRequest

        for request in reversed(self.catalog.list_erasure_requests(policy.client)):
            if request.status in OPEN_STATUSES:
                return request
        return self.catalog.add_erasure_request(
            NewErasureRequest(
                id=self.new_id(),
                client_id=policy.client,
                trigger=trigger,
                requested_by=requested_by,
                created_at=now,
                approved_by=approved_by,
                request_ref=request_ref,
            )
        )

    def _refuse(self, request: ErasureRequest, refusal: ErasureRefusedError, now: datetime) -> None:
        record = ErasureRecord(request.details)
        record.fail(refusal.code)
        self.catalog.update_erasure_request(
            request.id, status="refused", finished_at=now, details=record.to_details()
        )
        self.catalog.append_evidence(
            request.requested_by,
            "erasure.refused",
            {"client": request.client_id, "erasure_request": request.id},
            {"reason": refusal.code},
            now,
        )

    def _save(self, request: ErasureRequest, status: str, record: ErasureRecord) -> None:
        self.catalog.update_erasure_request(request.id, status=status, details=record.to_details())

    def _earlier_destinations(self, request: ErasureRequest) -> list[str]:
        earlier = [
            c
            for c in self.catalog.list_certificates(request.client_id)
            if c.erasure_request_id == request.id
        ]
        return list(dict.fromkeys(d for c in earlier for d in c.delivered_to))

    def _certify(
        self,
        policy: ClientPolicy,
        request: ErasureRequest,
        record: ErasureRecord,
        residual: list[Entry],
        now: datetime,
        airflow_run_id: str | None,
    ) -> ErasureOutcome:
        # the erasure scrubbed certificate_to from the catalog's policy versions: a
        # superseding certificate goes where this request's earlier ones went
        destinations = list(policy.erasure.certificate_to) or self._earlier_destinations(request)
        issued = self.issuer.issue(
            request, record, residual, destinations, now=now, airflow_run_id=airflow_run_id
        )
        record.add_certificate(issued.certificate.id)
        status = issued.predicate.status
        self.catalog.update_erasure_request(
            request.id, status=status, finished_at=now, details=record.to_details()
        )
        return ErasureOutcome(
            client_id=request.client_id,
            status=status,
            request_id=request.id,
            certificate_id=issued.certificate.id,
            supersedes=issued.certificate.supersedes,
            residual_until=sorted({r.locked_until.isoformat() for r in residual if r.locked_until}),
            delivered_to=list(issued.delivered_to),
        )

    def _dry_run(
        self,
        policy: ClientPolicy,
        scopes: list[StoreScope],
        requested_by: str,
        approved_by: str | None,
        now: datetime,
    ) -> ErasureOutcome:
        refused = None
        try:
            gates(policy, requested_by, approved_by)
        except ErasureRefusedError as refusal:
            refused = str(refusal)
        client = policy.client
        key = self.catalog.get_client_key(client)
        return ErasureOutcome(
            client_id=client,
            status="dry_run",
            dry_run=True,
            stores=[scope.summary(now) for scope in scopes],
            key=None
            if key is None
            else {"custody": key.custody, "state": key.state, "fingerprint": key.fingerprint},
            catalog_rows={
                "client": 1,
                "policy_versions": len(self.catalog.policy_history(client)),
                "recovery_points": len(self.catalog.list_recovery_points(client)),
                "archive_copies": len(self.catalog.list_archive_copies(client)),
            },
            refused=refused,
            left_alone=_left_alone(scopes),
        )


def _left_alone(scopes: list[StoreScope]) -> dict[str, int]:
    return {scope.store: scope.left_alone for scope in scopes if scope.left_alone}


def gates(policy: ClientPolicy, requested_by: str, approved_by: str | None) -> None:
    """The legal-hold gate, then the approval gate; ``ErasureRefusedError`` if one refuses."""
    if policy.legal_hold.active:  # its reason stays in the policy file: it may name people
        raise ErasureRefusedError(
            "legal_hold",
            f"client {policy.client!r} is under legal hold (policies/{policy.client}.yaml "
            "legal_hold.active, reason in legal_hold.reason); nothing was deleted; lift the "
            "hold in the policy and apply it before erasing",
        )
    rules.approval_gate(policy.erasure.approval, requested_by, approved_by)


def _locations(policy: ClientPolicy, scopes: list[StoreScope]) -> dict[str, str]:
    """Stores the certificate lists: where data was found, plus the order form's stores."""
    named = {policy.backup.storage, policy.archive.storage} - {None}
    chosen = {s.store: s.location for s in scopes if s.entries or s.store in named}
    return chosen or {s.store: s.location for s in scopes}


def _reason(exc: Exception) -> str:
    """A failure reason for the request's details: our messages are opaque by rule."""
    return str(exc) if isinstance(exc, RetentionError) else type(exc).__name__
