"""A two-client report built from hand-made snapshots, with a personal-name canary.

``acme-sas`` is the audit's healthy client (daily backups, monthly archives) whose order
form carries ``CANARY`` as its display name and an open erasure request; ``beta-corp``
has backups switched off, a contract that ended, and nothing stored.
"""

from __future__ import annotations

from datetime import date, timedelta

from retention_pipeline.domain.audit_snapshot import ClientSnapshot
from retention_pipeline.domain.controls import evaluate
from retention_pipeline.ports.catalog import ErasureRequest
from retention_pipeline.services.report import Report, build_report
from tests.audit.snapshots import CLIENT, NOW, healthy, policy, snapshot

CANARY = "Canary Zqxwv Person"
OTHER = "beta-corp"
REQUEST_AGE = timedelta(days=10)


def erasure_request(created_days_ago: int) -> ErasureRequest:
    """An approved client request for erasure, still running."""
    return ErasureRequest(
        id="er-open", client_id=CLIENT, trigger="client_request", requested_by="staff-0001",
        approved_by="staff-0002", request_ref=None, status="approved",
        created_at=NOW - timedelta(days=created_days_ago), finished_at=None, details={},
    )  # fmt: skip


def clients() -> tuple[ClientSnapshot, ClientSnapshot]:
    """The two clients described in the module docstring."""
    acme = healthy(
        policy=policy(display_name=CANARY),
        erasure_requests=(erasure_request(REQUEST_AGE.days),),
    )
    beta = ClientSnapshot(
        client_id=OTHER,
        policy=policy(
            client=OTHER,
            display_name=CANARY,
            backup={"mode": "off", "schedule": None},
            archive={"enabled": False},
            contract={"ends_on": date(2026, 6, 1)},
            erasure={"after_contract_end": "30d"},
        ),
        policy_version=1,
        policy_recorded_at=NOW - timedelta(days=100),
    )
    return acme, beta


def sample_report(client: str | None = None) -> Report:
    """The report of both clients at ``NOW`` (or of ``client`` only)."""
    snap = snapshot(*clients())
    return build_report(snap, evaluate(snap, NOW), NOW, client=client)
