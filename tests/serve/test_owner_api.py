"""The owner's API: login and its guards, the inventory, answering requests, tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from camsdk.privacy import load_grants, verify_grant
from camsdk.serve import Gateway

from ._helpers import OWNER_PASSWORD, OwnerClient, Requester, login

pytestmark = pytest.mark.anyio


async def test_the_right_password_opens_a_strict_httponly_session(
    app_client: httpx.AsyncClient,
) -> None:
    response = await login(app_client)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert response.json()["csrf"]
    assert (await app_client.get("/owner/api/overview")).status_code == 200


async def test_a_wrong_password_is_refused(app_client: httpx.AsyncClient) -> None:
    response = await login(app_client, "not it")
    assert response.status_code == 401
    assert (await app_client.get("/owner/api/overview")).status_code == 401


async def test_repeated_failures_lock_the_address_out_even_for_the_right_password(
    app_client: httpx.AsyncClient, gateway: Gateway
) -> None:
    attempts = gateway.config.limits.login_attempts
    for _ in range(attempts):
        assert (await login(app_client, "guess")).status_code == 401
    locked = await login(app_client, OWNER_PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    logins = [r for r in gateway.audit.records() if r.get("event") == "owner.login"]
    assert [r["allowed"] for r in logins] == [False] * (attempts + 1)
    assert logins[-1]["reason"] == "locked out"


async def test_the_owner_api_needs_a_session(app_client: httpx.AsyncClient) -> None:
    for path in ("/owner/api/overview", "/owner/api/audit", "/owner/api/report.json",
                 "/owner/api/cameras/porch/snapshot.jpg"):
        assert (await app_client.get(path)).status_code == 401, path
    assert (await app_client.post("/owner/api/scan")).status_code == 401


async def test_a_state_change_without_the_csrf_token_is_refused(owner: OwnerClient) -> None:
    client = owner.client
    assert (await client.post("/owner/api/tokens", json={"name": "desk"})).status_code == 403
    wrong = {"X-CSRF-Token": "x" * 43}
    assert (await client.post("/owner/api/tokens", json={"name": "desk"},
                              headers=wrong)).status_code == 403
    assert (await owner.overview())["tokens"] == []


async def test_a_cross_site_call_is_refused_even_with_the_token(owner: OwnerClient) -> None:
    response = await owner.client.post(
        "/owner/api/tokens", json={"name": "desk"},
        headers={"X-CSRF-Token": owner.csrf, "Origin": "https://evil.example"})
    assert response.status_code == 403


async def test_the_inventory_shows_health_and_live_thumbnails(owner: OwnerClient) -> None:
    cameras = {c["name"]: c for c in (await owner.overview())["cameras"]}
    assert cameras["porch"]["state"] == "online"
    assert cameras["porch"]["camera_id"] == "virtual:gw-porch"
    assert cameras["porch"]["record"] and not cameras["garden"]["record"]
    picture = await owner.get("/owner/api/cameras/porch/snapshot.jpg")
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content.startswith(b"\xff\xd8")
    assert (await owner.get("/owner/api/cameras/nope/snapshot.jpg")).status_code == 404


async def test_approving_signs_a_grant_with_the_owners_key(
    owner: OwnerClient, requester: Requester, gateway: Gateway
) -> None:
    request_id = await requester.submit()
    [grant_id] = await owner.approve(request_id)
    [grant] = load_grants(gateway.store.path("grants.json"))
    assert grant.grant_id == grant_id and grant.principal == requester.principal
    assert grant.cameras == {"virtual:gw-porch"}
    assert verify_grant(grant, [gateway.key.public_key()])
    state = (await requester.client.get(f"/api/v1/requests/{request_id}")).json()
    assert state["state"] == "approved" and state["grant_ids"] == [grant_id]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"cameras": ["porch", "garden"]}, "not asked for: garden"),
        ({"footage_until": (datetime.now(UTC) + timedelta(days=3)).isoformat()},
         "inside the one asked for"),
        ({"expires_at": (datetime.now(UTC) + timedelta(days=90)).isoformat()},
         "within the longest grant"),
    ],
    ids=["another camera", "a longer window", "a longer expiry"],
)
async def test_an_approval_wider_than_the_request_is_refused(
    owner: OwnerClient, requester: Requester, change: dict[str, object], problem: str
) -> None:
    request_id = await requester.submit()
    asked = (await owner.overview())["requests"][0]["body"]
    body = {"cameras": ["porch"], "mode": "live", "footage_from": asked["footage_from"],
            "footage_until": asked["footage_until"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(), **change}
    response = await owner.post(f"/owner/api/requests/{request_id}/approve", body)
    assert response.status_code == 400 and problem in response.json()["error"]
    assert (await owner.overview())["grants"] == []


async def test_deny_and_ask_for_more_reach_the_requester(
    owner: OwnerClient, requester: Requester
) -> None:
    first = await requester.submit()
    await owner.post(f"/owner/api/requests/{first}/deny", {"note": "no case number"})
    assert (await requester.client.get(f"/api/v1/requests/{first}")).json()["note"] == (
        "no case number")
    second = await requester.submit()
    await owner.post(f"/owner/api/requests/{second}/ask", {"question": "Which night?"})
    state = (await requester.client.get(f"/api/v1/requests/{second}")).json()
    assert (state["state"], state["note"]) == ("needs_info", "Which night?")
    replied = await requester.client.post(f"/api/v1/requests/{second}/reply",
                                          json={"answer": "Tuesday"})
    assert replied.json()["state"] == "pending"
    again = await owner.post(f"/owner/api/requests/{first}/approve", {})
    assert again.status_code in (409, 422)


async def test_an_issued_token_identifies_a_requester_until_withdrawn(
    owner: OwnerClient, app_client: httpx.AsyncClient, gateway: Gateway
) -> None:
    issued = await owner.post("/owner/api/tokens", {"name": "county-desk"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await app_client.get("/api/v1/grants", headers=headers)).status_code == 200
    assert token not in gateway.store.path("tokens.json").read_text()
    await owner.post("/owner/api/tokens/county-desk/withdraw")
    assert (await app_client.get("/api/v1/grants", headers=headers)).status_code == 401


async def test_the_audit_page_verifies_the_log_and_notices_tampering(
    owner: OwnerClient, requester: Requester, gateway: Gateway
) -> None:
    await requester.submit()
    audit = (await owner.get("/owner/api/audit")).json()
    assert audit["ok"] and audit["logs"][0]["signed_through"] > 0
    assert any(r.get("event") == "request.received" for r in audit["records"])
    [log_file] = gateway.audit.files()
    lines = log_file.read_bytes().splitlines(keepends=True)
    edited = [line.replace(b"parcel theft", b"parcel thefT") for line in lines]
    assert edited != lines
    log_file.write_bytes(b"".join(edited))
    broken = (await owner.get("/owner/api/audit")).json()
    assert not broken["ok"] and "altered" in broken["logs"][0]["reason"]


async def test_the_transparency_report_counts_requests_per_requester(
    owner: OwnerClient, requester: Requester, other_requester: Requester
) -> None:
    approved = await requester.submit()
    await owner.approve(approved)
    denied = await other_requester.submit(purpose="curiosity about neighbours")
    await owner.post(f"/owner/api/requests/{denied}/deny", {"note": "no"})
    report = (await owner.get("/owner/api/report.json")).json()
    assert report["totals"] | {"live_minutes": 0} == {
        "received": 2, "approved": 1, "declined": 1, "expired": 0, "live_minutes": 0,
        "recorded_minutes": 0.0}
    rows = {r["requester"]: r for r in report["rows"]}
    assert rows["Precinct 7"]["approved"] == 1 and rows["Someone else"]["declined"] == 1
    csv = (await owner.get("/owner/api/report.csv")).text.splitlines()
    assert csv[0].startswith("requester,principal,purpose,received")
    assert len(csv) == 3


async def test_the_owner_page_and_its_scripts_are_served_under_a_strict_policy(
    app_client: httpx.AsyncClient,
) -> None:
    page = await app_client.get("/")
    assert page.status_code == 200 and "owner.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert (await app_client.get("/static/owner.js")).status_code == 200
    assert (await app_client.get("/static/../_gateway.py")).status_code == 404


def test_requests_are_kept_on_disk_without_secrets(tmp_path: Path) -> None:
    # The files the gateway writes are its owner's alone.
    from camsdk.serve._store import GatewayStore

    store = GatewayStore(tmp_path / "data")
    store.write_json("requests.json", [{"a": 1}])
    assert (store.path("requests.json").stat().st_mode & 0o777) == 0o600
    assert (store.directory.stat().st_mode & 0o777) == 0o700
    assert json.loads(store.path("requests.json").read_text()) == [{"a": 1}]
