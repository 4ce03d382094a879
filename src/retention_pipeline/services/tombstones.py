"""An erased client's id is a tombstone: nothing is ever processed for it again.

Why: after an erasure the catalog keeps the client's policy versions with their personal
fields scrubbed, and its policy file may still sit in the policies folder. Applying that
file again would record a new version with the personal fields restored and show the
client as active, as if the certified erasure had not happened. So every use case that
could act for a client asks here first: policy apply refuses the file (naming the
certificate and the date), the client list and ``policy show`` say "erased", the audit's
freshness and archive controls are not applicable, and backups stay refused.

A client is erased once one of its erasure requests completed (``completed`` or
``completed_with_exceptions``: locked residual copies are crypto-erased and swept later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retention_pipeline.ports.catalog import DONE_ERASURES, Catalog, ErasureRequest


@dataclass(frozen=True)
class Tombstone:
    """When a client was erased, and the certificate that says so (ids only)."""

    client_id: str
    erasure_request_id: str
    certificate_id: str | None
    erased_at: datetime

    def describe(self) -> str:
        """``erased on DATE (certificate ID)``: safe to print and log."""
        certificate = f" (certificate {self.certificate_id})" if self.certificate_id else ""
        return f"erased on {self.erased_at:%Y-%m-%d}{certificate}"


def tombstone(catalog: Catalog, client_id: str) -> Tombstone | None:
    """The client's tombstone, or ``None`` if it was never erased."""
    requests = [r for r in catalog.list_erasure_requests(client_id) if r.status in DONE_ERASURES]
    if not requests:
        return None
    return _tombstone(catalog, requests[0])


def tombstones(catalog: Catalog) -> dict[str, Tombstone]:
    """Every erased client's tombstone, by client id."""
    first: dict[str, ErasureRequest] = {}
    for request in catalog.list_erasure_requests():
        if request.status in DONE_ERASURES:
            first.setdefault(request.client_id, request)
    return {client: _tombstone(catalog, request) for client, request in first.items()}


def _tombstone(catalog: Catalog, request: ErasureRequest) -> Tombstone:
    certificates = catalog.list_certificates(request.client_id)
    issued = [c for c in certificates if c.erasure_request_id == request.id]
    latest = issued[-1].id if issued else None  # a swept residue supersedes the first
    erased_at = request.finished_at or request.created_at
    return Tombstone(request.client_id, request.id, latest, erased_at)
