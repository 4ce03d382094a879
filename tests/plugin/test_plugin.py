"""The auditors' plugin, served by a real ``airflow api-server``: authenticated, private.

What an auditor relies on: every page and endpoint refuses a request without an Airflow
login (401), answers with one (200), shows the ids and counts the catalog holds,
verifies the destruction certificate, and never shows a name, e-mail, contract
reference, purpose, delivery address or key.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.plugin.conftest import ERASED, KEPT, PluginServer

ROUTES = [
    "/retention/",
    "/retention/api/summary",
    f"/retention/api/clients/{KEPT}",
    f"/retention/api/clients/{ERASED}",
    "/retention/api/certificates",
    "/retention/api/checkpoint",
    "/retention/openapi.json",
]


def _routes(server: PluginServer) -> list[str]:
    cert = server.certificate_id
    return [
        *ROUTES,
        f"/retention/certificates/{cert}/bundle.json",
        f"/retention/api/certificates/{cert}/verify",
    ]


def test_every_route_refuses_a_request_without_a_token(server: PluginServer) -> None:
    for route in _routes(server):
        status, _ = server.get(route)
        assert status == 401, route


def test_a_forged_token_is_refused(server: PluginServer) -> None:
    status, _ = server.get("/retention/api/summary", token="not-a-jwt")
    assert status in (401, 403)


def test_every_route_answers_an_authenticated_user(server: PluginServer) -> None:
    for route in _routes(server):
        status, body = server.get(route, token=server.token)
        assert status == 200, (route, body[:300])


def test_summary_counts_every_controls_verdict_for_both_clients(server: PluginServer) -> None:
    summary: Any = server.json("/retention/api/summary")
    assert sum(summary["counts"].values()) == len(summary["results"]) > 0
    assert {KEPT, ERASED} <= {r["client"] for r in summary["results"]}


def test_client_view_shows_policy_against_reality(server: PluginServer) -> None:
    kept: Any = server.json(f"/retention/api/clients/{KEPT}")
    assert kept["policy"]["backup"]["schedule"] == "0 2 * * *"
    assert kept["policy"]["backup"]["retention"]["max_age"] == "35d"
    assert kept["policy"]["erasure"]["destinations"] == 1
    assert kept["recovery_points"]["by_status"] == {"complete": 1}
    assert kept["recovery_points"]["last_backup"]["id"] == server.kept_point
    oldest = kept["recovery_points"]["oldest_kept"]
    assert oldest["id"] == server.kept_point
    assert oldest["expires_by"] > oldest["created_at"]
    assert kept["certificates"] == []
    erased: Any = server.json(f"/retention/api/clients/{ERASED}")
    assert erased["recovery_points"]["last_backup"] is None
    assert erased["certificates"] == [server.certificate_id]


def test_unknown_client_is_a_404_that_names_it(server: PluginServer) -> None:
    status, body = server.get("/retention/api/clients/nobody-here", token=server.token)
    assert status == 404
    assert b"nobody-here" in body


def test_certificate_lists_downloads_and_verifies(server: PluginServer) -> None:
    rows: Any = server.json("/retention/api/certificates")
    (row,) = rows
    assert row["id"] == server.certificate_id and row["client"] == ERASED
    status, bundle = server.get(
        f"/retention/certificates/{server.certificate_id}/bundle.json", token=server.token
    )
    assert status == 200 and set(json.loads(bundle)) == {"checkpoint", "envelope", "inclusion"}
    verdict: Any = server.json(f"/retention/api/certificates/{server.certificate_id}/verify")
    assert verdict["verified"] is True
    assert verdict["client"] == ERASED and verdict["tree_size"] == 1


def test_checkpoint_is_the_signed_log_head(server: PluginServer) -> None:
    checkpoint: Any = server.json("/retention/api/checkpoint")
    assert checkpoint["tree_size"] == 1
    assert checkpoint["checkpoint"].splitlines()[1] == "1"


def test_html_page_is_self_contained(server: PluginServer) -> None:
    status, body = server.get("/retention/", token=server.token)
    page = body.decode()
    assert status == 200 and server.certificate_id in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


@pytest.mark.parametrize("index", range(len(ROUTES) + 2))
def test_no_response_shows_personal_data_or_keys(server: PluginServer, index: int) -> None:
    route = _routes(server)[index]
    status, body = server.get(route, token=server.token)
    assert status == 200
    text = body.decode()
    escaped = json.dumps(text)
    for canary in server.canaries:
        assert canary not in text and canary not in escaped, (route, "a planted canary")


def test_plugin_adds_its_page_to_the_airflow_navigation(server: PluginServer) -> None:
    listing: Any = server.json("/api/v2/plugins")
    (plugin,) = [p for p in listing["plugins"] if p["name"] == "retention_pipeline"]
    (view,) = plugin["external_views"]
    assert view["destination"] == "nav" and view["href"] == "/retention/"
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/retention"]


def test_the_openapi_document_needs_a_login_and_no_cdn_page_is_served(
    server: PluginServer,
) -> None:
    status, _ = server.get("/retention/openapi.json")
    assert status == 401
    status, _ = server.get("/retention/openapi.json", token="not-a-jwt")
    assert status in (401, 403)
    document: Any = server.json("/retention/openapi.json")
    assert "/api/summary" in document["paths"]
    for page in ("/retention/docs", "/retention/redoc"):  # they load scripts from a CDN
        assert server.get(page, token=server.token)[0] == 404, page


def test_every_response_says_no_store_nosniff_and_a_content_security_policy(
    server: PluginServer,
) -> None:
    """Successes and errors alike: a browser or proxy keeps none of it, sniffs nothing."""
    bearer = {"Authorization": f"Bearer {server.token}"}
    forged = {"Authorization": "Bearer not-a-jwt"}
    requests: list[tuple[str, str, dict[str, str], set[int]]] = [
        *(("GET", route, bearer, {200}) for route in _routes(server)),
        *(("GET", route, {}, {401}) for route in _routes(server)),
        ("GET", "/retention/api/summary", forged, {401, 403}),
        ("GET", "/retention/api/clients/no-such-client", bearer, {404}),
        ("GET", "/retention/api/certificates/cert-none/verify", bearer, {404}),
        ("GET", "/retention/no/such/page", bearer, {404}),
        ("POST", "/retention/api/summary", bearer, {405}),
    ]
    for method, route, headers, expected in requests:
        response = httpx.request(method, server.url + route, headers=headers, timeout=30)
        assert response.status_code in expected, (method, route, response.status_code)
        assert response.headers.get("cache-control") == "no-store", (method, route)
        assert response.headers.get("x-content-type-options") == "nosniff", (method, route)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy, route
