"""The auditors' pages and JSON API, served by the Airflow API server as a plugin app.

Rules this module enforces:

* Every route depends on an authenticated Airflow user (``get_user``: a JWT bearer token
  or the UI's session cookie). Airflow mounts plugin apps without authentication, so the
  dependency sits on the app itself and no route can be added without it.
* Only ids, dates, counts, digests and fingerprints leave this module: no display name,
  purpose, contract reference, hold reason, delivery address, key material or object
  contents. The policy view is an allow-list of fields, not a deny-list.
* HTML is built from escaped values only and loads no external resource.
* The OpenAPI document is a route like the others, behind the same login (FastAPI's own
  ``/openapi.json`` skips app dependencies); the Swagger and ReDoc pages stay off, as
  they load scripts from a CDN.
* Every response, errors and crashes included, says ``Cache-Control: no-store`` (a
  shared browser or proxy keeps no audit data), ``X-Content-Type-Options: nosniff`` and
  a ``Content-Security-Policy`` that allows nothing to load and only Airflow's own UI to
  frame the page (``SecurityHeaders``, wrapped around the whole app).

The installation is read from ``RETENTION_HOME`` at each request, so the API server can
start before the home exists and always shows the catalog as it is now.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retention_pipeline import bootstrap
from retention_pipeline.domain.controls import summary
from retention_pipeline.domain.durations import parse_duration
from retention_pipeline.envelope.bundle import bundle_bytes, verify_bundle
from retention_pipeline.errors import NotFoundError, RetentionError
from retention_pipeline.ports.catalog import Certificate, PolicyVersion, RecoveryPoint
from retention_pipeline.services.audit import audit

PREFIX = "/retention"

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # nothing to load (the page has no script, style or image); framed by the Airflow UI
    # (external view, same origin) and nothing else
    "Content-Security-Policy": (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    ),
}


class SecurityHeaders:
    """ASGI middleware that sets ``SECURITY_HEADERS`` on every HTTP response it sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _ComplianceApp(FastAPI):
    """FastAPI with ``SecurityHeaders`` outside everything, the crash handler included.

    ``add_middleware`` would put it inside Starlette's ``ServerErrorMiddleware``, so a
    500 would go out without the headers.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


app = _ComplianceApp(
    title="retention-pipeline compliance",
    dependencies=[Depends(get_user)],
    openapi_url=None,  # served below, behind the login
    docs_url=None,
    redoc_url=None,
)


@contextmanager
def _installation() -> Iterator[bootstrap.Installation]:
    """The installation of ``RETENTION_HOME``; our errors become HTTP errors that say why."""
    try:
        yield bootstrap.load_installation(None)
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
    except RetentionError as error:
        raise HTTPException(status_code=409, detail=str(error)) from error


def compliance_summary(installation: bootstrap.Installation, now: datetime) -> dict[str, Any]:
    """Verdict counts and every control's verdict (evidence holds ids and dates only)."""
    results = audit(installation, now)
    return {
        "generated_at": now.isoformat(),
        "counts": summary(results),
        "results": [
            {
                "client": r.client_id,
                "control": r.control_id,
                "title": r.title,
                "verdict": r.verdict,
                "evidence": r.evidence,
            }
            for r in results
        ],
    }


def _policy_view(version: PolicyVersion | None) -> dict[str, Any] | None:
    """The order form's operational fields only; personal fields never leave the catalog."""
    if version is None or version.document is None:
        return None
    doc = version.document
    backup = doc.get("backup") or {}
    archive = doc.get("archive") or {}
    erasure = doc.get("erasure") or {}
    contract = doc.get("contract") or {}
    return {
        "version": version.version,
        "digest": version.digest,
        "recorded_at": version.recorded_at.isoformat(),
        "contract_ends_on": _text(contract.get("ends_on")),
        "legal_basis": doc.get("legal_basis"),
        "backup": {k: backup.get(k) for k in ("mode", "schedule", "storage", "retention")},
        "archive": {
            k: archive.get(k) for k in ("enabled", "every", "storage", "retention", "lock")
        },
        "erasure": {
            "after_contract_end": erasure.get("after_contract_end"),
            "approval": erasure.get("approval"),
            "destinations": len(erasure.get("certificate_to") or []),
        },
        "legal_hold_active": bool((doc.get("legal_hold") or {}).get("active")),
    }


def client_view(installation: bootstrap.Installation, client_id: str) -> dict[str, Any]:
    """One client's policy against what the catalog holds (404 for an unknown client)."""
    catalog = installation.catalog
    if client_id not in {c.client_id for c in catalog.list_clients()}:
        raise NotFoundError(f"client {client_id!r} is not in the catalog; check the client id")
    points = catalog.list_recovery_points(client_id)
    statuses: dict[str, int] = {}
    for point in points:
        statuses[point.status] = statuses.get(point.status, 0) + 1
    complete = sorted((p for p in points if p.status == "complete"), key=lambda p: p.created_at)
    copies = catalog.list_archive_copies(client_id)
    version = catalog.latest_policy(client_id)
    max_age = _max_age(version)
    return {
        "client": client_id,
        "policy": _policy_view(version),
        "recovery_points": {
            "by_status": statuses,
            "last_backup": _point(complete[-1]) if complete else None,
            "oldest_kept": _point(complete[0], max_age) if complete else None,
        },
        "archive_copies": [
            {
                "id": c.id,
                "recovery_point": c.recovery_point_id,
                "store": c.store,
                "status": c.status,
                "created_at": c.created_at.isoformat(),
                "lock_mode": c.lock_mode,
                "lock_until": _text(c.lock_until),
                "sha256": c.sha256,
            }
            for c in copies
        ],
        "certificates": [c.id for c in catalog.list_certificates(client_id)],
    }


def certificate_row(c: Certificate) -> dict[str, Any]:
    """A certificate's public facts (delivery addresses are counted, never shown)."""
    return {
        "id": c.id,
        "client": c.client_id,
        "status": c.status,
        "issued_at": c.issued_at.isoformat(),
        "leaf_index": c.leaf_index,
        "supersedes": c.supersedes,
        "erasure_request": c.erasure_request_id,
        "envelope_sha256": c.envelope_sha256,
        "deliveries": len(c.delivered_to),
    }


def verification(installation: bootstrap.Installation, certificate_id: str) -> dict[str, Any]:
    """Verify the stored bundle as a client would: signature, statement, inclusion, checkpoint."""
    certificate = installation.catalog.get_certificate(certificate_id)
    public_key = installation.signing_key(create=False).public_key()
    try:
        verified = verify_bundle(certificate.bundle, public_key)
    except RetentionError as error:
        return {"certificate": certificate_id, "verified": False, "reason": str(error)}
    return {
        "certificate": certificate_id,
        "verified": True,
        "client": verified.predicate.client_id,
        "status": verified.predicate.status,
        "envelope_sha256": verified.envelope_sha256,
        "key_fingerprint": verified.key_fingerprint,
        "leaf_index": verified.leaf_index,
        "tree_size": verified.tree_size,
    }


@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> dict[str, Any]:
    """The API's OpenAPI document, for an authenticated user only."""
    return app.openapi()


@app.get("/api/summary")
def get_summary() -> dict[str, Any]:
    """The compliance summary as JSON."""
    with _installation() as installation:
        return compliance_summary(installation, datetime.now(UTC))


@app.get("/api/clients/{client_id}")
def get_client(client_id: str) -> dict[str, Any]:
    """One client's policy against reality as JSON."""
    with _installation() as installation:
        return client_view(installation, client_id)


@app.get("/api/certificates")
def get_certificates() -> list[dict[str, Any]]:
    """Every certificate's public facts."""
    with _installation() as installation:
        return [certificate_row(c) for c in installation.catalog.list_certificates()]


@app.get("/api/certificates/{certificate_id}/verify")
def get_verification(certificate_id: str) -> dict[str, Any]:
    """Whether the stored bundle verifies against the installation's certificate key."""
    with _installation() as installation:
        return verification(installation, certificate_id)


@app.get("/certificates/{certificate_id}/bundle.json")
def get_bundle(certificate_id: str) -> Response:
    """The bundle file the client received, byte for byte, as a download."""
    with _installation() as installation:
        certificate = installation.catalog.get_certificate(certificate_id)
        return Response(
            bundle_bytes(certificate.bundle),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{certificate.id}.json"'},
        )


@app.get("/api/checkpoint")
def get_checkpoint() -> dict[str, Any]:
    """The newest signed checkpoint of the certificate log (its text, as signed)."""
    with _installation() as installation:
        if not installation.catalog.certificate_leaves():
            raise NotFoundError("the certificate log is empty: no certificate was issued yet")
        text = installation.certificate_log().checkpoint()
        return {"checkpoint": text, "tree_size": len(installation.catalog.certificate_leaves())}


@app.get("/", response_class=HTMLResponse)
def get_page() -> str:
    """The summary page linked from the Airflow navigation."""
    with _installation() as installation:
        report = compliance_summary(installation, datetime.now(UTC))
        certificates = [certificate_row(c) for c in installation.catalog.list_certificates()]
    return render_page(report, certificates)


def render_page(report: dict[str, Any], certificates: list[dict[str, Any]]) -> str:
    """A self-contained HTML page: every value escaped, no script, no external resource."""
    counts = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in report["counts"].items())
    results = _table(
        ["Client", "Control", "Verdict"],
        [[r["client"], r["control"], r["verdict"]] for r in report["results"]],
    )
    certs = _table(
        ["Certificate", "Client", "Status", "Issued", "Download", "Verify"],
        [
            [c["id"], c["client"], c["status"], c["issued_at"], _link(c, "bundle"), _link(c, "v")]
            for c in certificates
        ],
        raw_columns={4, 5},
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Retention compliance</title>"
        "</head><body><h1>Retention compliance</h1>"
        f"<p>Generated at {_e(report['generated_at'])}</p><ul>{counts}</ul>"
        f"<h2>Controls</h2>{results}<h2>Certificates</h2>{certs}"
        f"<p><a href='{PREFIX}/api/checkpoint'>Latest log checkpoint</a></p></body></html>"
    )


def _link(certificate: dict[str, Any], kind: str) -> str:
    ident = html.escape(certificate["id"], quote=True)
    if kind == "bundle":
        return f"<a href='{PREFIX}/certificates/{ident}/bundle.json'>bundle.json</a>"
    return f"<a href='{PREFIX}/api/certificates/{ident}/verify'>verify</a>"


def _table(head: list[str], rows: list[list[Any]], raw_columns: set[int] | None = None) -> str:
    raw = raw_columns or set()
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v if i in raw else _e(v)}</td>" for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{header}</tr>{body}</table>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _point(point: RecoveryPoint, max_age: timedelta | None = None) -> dict[str, Any]:
    """A point's ids and dates; ``expires_by`` is the retention horizon (created + max_age)."""
    view: dict[str, Any] = {
        "id": point.id,
        "store": point.store,
        "created_at": point.created_at.isoformat(),
    }
    if max_age is not None:
        view["expires_by"] = (point.created_at + max_age).isoformat()
    return view


def _max_age(version: PolicyVersion | None) -> timedelta | None:
    """The backup ``max_age`` of the current policy version, if it sets one."""
    if version is None or version.document is None:
        return None
    retention = (version.document.get("backup") or {}).get("retention") or {}
    text = retention.get("max_age")
    return parse_duration(text) if isinstance(text, str) else None
