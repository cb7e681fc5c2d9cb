"""The requester API: proof of identity on every call, bounded input, audited calls."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from camsdk.serve import Gateway, RequesterAuth, SiteConfig
from camsdk.serve._identity import signing_payload

from ._helpers import OwnerClient, Requester, site_config, started

pytestmark = pytest.mark.anyio

ENDPOINTS = [
    ("GET", "/api/v1/catalog"),
    ("POST", "/api/v1/requests"),
    ("GET", "/api/v1/requests/0123456789abcdef0123456789abcdef"),
    ("POST", "/api/v1/requests/0123456789abcdef0123456789abcdef/reply"),
    ("GET", "/api/v1/grants"),
    ("GET", "/api/v1/grants/0123456789abcdef0123456789abcdef/rtsp"),
    ("GET", "/api/v1/cameras"),
    ("POST", "/api/v1/live"),
    ("POST", "/api/v1/exports"),
    ("GET", "/api/v1/exports/0123456789abcdef0123456789abcdef"),
    ("GET", "/api/v1/exports/0123456789abcdef0123456789abcdef/clip.mp4"),
    ("GET", "/api/v1/exports/0123456789abcdef0123456789abcdef/manifest.json"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_requester_endpoint_needs_proof_of_identity(
    app_client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await app_client.request(method, path, json={})
    assert response.status_code == 401
    assert "Camsdk-Ed25519" in response.headers["www-authenticate"]


async def test_a_replayed_signature_is_refused(
    requester: Requester, app_client: httpx.AsyncClient
) -> None:
    header = requester.auth.header("GET", "/api/v1/grants")
    first = await app_client.get("/api/v1/grants", headers={"Authorization": header})
    again = await app_client.get("/api/v1/grants", headers={"Authorization": header})
    assert (first.status_code, again.status_code) == (200, 401)
    assert "replayed" in again.json()["error"]


async def test_a_signature_does_not_cover_another_body_or_path(
    requester: Requester, app_client: httpx.AsyncClient
) -> None:
    header = requester.auth.header("POST", "/api/v1/requests", b'{"cameras": ["porch"]}')
    body = b'{"cameras": ["garden"]}'
    response = await app_client.post("/api/v1/requests", content=body,
                                     headers={"Authorization": header})
    assert response.status_code == 401 and "does not verify" in response.json()["error"]
    header = requester.auth.header("GET", "/api/v1/grants")
    moved = await app_client.get("/api/v1/cameras", headers={"Authorization": header})
    assert moved.status_code == 401


async def test_an_old_signature_is_refused(
    requester: Requester, app_client: httpx.AsyncClient
) -> None:
    ts, nonce = str(int(time.time()) - 600), "ab" * 16
    sig = requester.key.sign(signing_payload("GET", "/api/v1/grants", ts, nonce, b""))
    import base64

    header = (f"Camsdk-Ed25519 key={requester.auth.public_key}, ts={ts}, nonce={nonce}, "
              f"sig={base64.urlsafe_b64encode(sig).decode().rstrip('=')}")
    response = await app_client.get("/api/v1/grants", headers={"Authorization": header})
    assert response.status_code == 401 and "clock skew" in response.json()["error"]


async def test_a_request_names_cameras_or_an_area(
    requester: Requester, owner: OwnerClient
) -> None:
    by_area = await requester.client.post(
        "/api/v1/requests", json=requester.request_body(cameras=[], area="street"))
    assert by_area.status_code == 201 and by_area.json()["cameras"] == ["porch", "garden"]
    unknown = await requester.client.post(
        "/api/v1/requests", json=requester.request_body(cameras=["attic"]))
    assert unknown.status_code == 422 and "attic" in unknown.json()["error"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"case_reference": "", "legal_basis": ""}, "legal basis or a case reference"),
        ({"footage_until": "2020-01-01T00:00:00Z"}, "after footage_from"),
        ({"footage_from": "2024-01-01T00:00:00"}, "time zone"),
        ({"purpose": "x\u0007y"}, "control characters"),
        ({"mode": "everything"}, "mode"),
        ({"extra": "field"}, "extra"),
    ],
    ids=["no basis", "backwards window", "naive time", "control chars", "bad mode", "extra"],
)
async def test_an_invalid_request_is_refused_with_the_reason(
    requester: Requester, change: dict[str, str], problem: str
) -> None:
    response = await requester.client.post("/api/v1/requests",
                                           json=requester.request_body(**change))
    assert response.status_code == 422 and problem in response.json()["error"]


async def test_a_body_over_the_limit_is_refused_unread(requester: Requester) -> None:
    body = requester.request_body(legal_basis="x" * 200_000)
    response = await requester.client.post("/api/v1/requests", json=body)
    assert response.status_code == 413


async def test_access_requests_are_rate_limited_per_requester(tmp_path: Path) -> None:
    config: SiteConfig = site_config(tmp_path, limits={"requests_per_hour": 2})
    gateway = await started(config)
    try:
        requester = Requester(gateway, "Eager")
        async with requester.client:
            await requester.submit()
            await requester.submit()
            third = await requester.client.post("/api/v1/requests",
                                                json=requester.request_body())
        assert third.status_code == 429 and third.headers["retry-after"] == "3600"
    finally:
        await gateway.aclose()


async def test_a_request_is_visible_to_its_requester_only(
    requester: Requester, other_requester: Requester
) -> None:
    request_id = await requester.submit()
    mine = await requester.client.get(f"/api/v1/requests/{request_id}")
    theirs = await other_requester.client.get(f"/api/v1/requests/{request_id}")
    assert (mine.status_code, theirs.status_code) == (200, 404)
    assert mine.json()["state"] == "pending"
    reply = await other_requester.client.post(f"/api/v1/requests/{request_id}/reply",
                                              json={"answer": "hi"})
    assert reply.status_code == 404


async def test_every_call_is_written_to_the_audit_log(
    requester: Requester, app_client: httpx.AsyncClient, gateway: Gateway
) -> None:
    await requester.client.get("/api/v1/grants")
    await app_client.get("/api/v1/cameras")
    calls = [r for r in gateway.audit.records() if r.get("event") == "api"]
    assert [(c["route"], c["principal"], c["status"]) for c in calls] == [
        ("GET /api/v1/grants", requester.principal, 200),
        ("GET /api/v1/cameras", "", 401),
    ]


async def test_the_openapi_document_describes_every_route(app_client: httpx.AsyncClient) -> None:
    document = (await app_client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    paths = set(document["paths"])
    for _method, path in ENDPOINTS:
        template = path.replace("0123456789abcdef0123456789abcdef", "{id}")
        matches = [p for p in paths if p.replace("{request_id}", "{id}")
                   .replace("{grant_id}", "{id}").replace("{export_id}", "{id}") == template]
        assert matches, f"{path} is not documented"
    body = document["paths"]["/api/v1/requests"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "purpose" in document["components"]["schemas"][ref]["properties"]


async def test_a_requester_key_is_its_identity_across_calls(gateway: Gateway) -> None:
    first = Requester(gateway, "One")
    async with first.client:
        request_id = await first.submit()
        # The same key in a new client is the same principal.
        transport = httpx.ASGITransport(app=first.client._transport.app)  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     auth=RequesterAuth(first.key)) as again:
            assert (await again.get(f"/api/v1/requests/{request_id}")).status_code == 200
