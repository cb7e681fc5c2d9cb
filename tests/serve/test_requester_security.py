"""What a requester cannot reach: no grant, someone else's, expired, revoked, forged, widened,
another camera, outside the footage window, or a file outside the exports."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import websockets

from camsdk.privacy import Grant, generate_signing_key, save_grants, sign_grant
from camsdk.serve import Gateway, SiteConfig
from camsdk.serve._app import running
from camsdk.serve._sharing import LIVE_ACTIONS, RECORDED_ACTIONS, SharingError

from ._helpers import WAIT, OwnerClient, Requester, started

pytestmark = pytest.mark.anyio

PORCH = "virtual:gw-porch"


def _grant(requester: Requester, **fields: Any) -> Grant:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "principal": requester.principal, "cameras": {PORCH}, "actions": LIVE_ACTIONS,
        "purpose": "parcel theft investigation", "issued_at": now - timedelta(minutes=1),
        "expires_at": now + timedelta(hours=1), "footage_from": now - timedelta(hours=1),
        "footage_until": now + timedelta(hours=1), **fields,
    }
    return Grant.model_validate(values)


def _add(gateway: Gateway, grant: Grant, key: Any = None) -> Grant:
    signed = sign_grant(grant, key or gateway.key)
    gateway.sharing.policy.add_grant(signed)
    return signed


async def _live(requester: Requester, grant_id: str, camera: str = "porch") -> httpx.Response:
    return await requester.client.post("/api/v1/live",
                                       json={"grant_id": grant_id, "camera": camera})


async def _export(requester: Requester, grant_id: str, start: datetime, end: datetime
                  ) -> httpx.Response:
    return await requester.client.post("/api/v1/exports", json={
        "grant_id": grant_id, "camera": "porch", "footage_from": start.isoformat(),
        "footage_until": end.isoformat()})


async def test_without_a_grant_nothing_opens(requester: Requester) -> None:
    assert (await _live(requester, secrets.token_hex(16))).status_code == 404
    now = datetime.now(UTC)
    assert (await _export(requester, secrets.token_hex(16), now - timedelta(minutes=5),
                          now)).status_code == 404
    assert (await requester.client.get(
        f"/api/v1/grants/{secrets.token_hex(16)}/rtsp")).status_code == 404
    assert (await requester.client.get("/api/v1/cameras")).json() == {"cameras": []}


async def test_another_requesters_grant_looks_like_no_grant(
    owner: OwnerClient, requester: Requester, other_requester: Requester
) -> None:
    [grant] = await owner.approve(await requester.submit())
    assert (await _live(other_requester, grant)).status_code == 404
    assert (await other_requester.client.get(f"/api/v1/grants/{grant}/rtsp")).status_code == 404
    assert (await other_requester.client.get("/api/v1/grants")).json() == {"grants": []}


async def test_a_grant_does_not_open_another_camera(
    owner: OwnerClient, requester: Requester
) -> None:
    [grant] = await owner.approve(await requester.submit())
    response = await _live(requester, grant, camera="garden")
    assert response.status_code == 403 and "does not cover" in response.json()["error"]


async def test_an_expired_grant_opens_nothing(gateway: Gateway, requester: Requester) -> None:
    now = datetime.now(UTC)
    grant = _add(gateway, _grant(requester, issued_at=now - timedelta(hours=2),
                                 expires_at=now - timedelta(hours=1)))
    assert (await _live(requester, grant.grant_id)).status_code == 403
    [listed] = (await requester.client.get("/api/v1/grants")).json()["grants"]
    assert listed["status"] == "expired"


async def test_a_revoked_grant_opens_nothing(
    owner: OwnerClient, requester: Requester, gateway: Gateway
) -> None:
    [grant] = await owner.approve(await requester.submit())
    ticket = (await _live(requester, grant)).json()["ticket"]
    await owner.post(f"/owner/api/grants/{grant}/revoke")
    assert (await _live(requester, grant)).status_code == 403
    assert (await requester.client.get(f"/api/v1/grants/{grant}/rtsp")).status_code == 403
    # A ticket handed out before the revocation is worth nothing after it.
    async with running(gateway) as base:
        url = base.replace("http://", "ws://") + f"/api/v1/live/ws?ticket={ticket}"
        with anyio.fail_after(WAIT):
            async with websockets.connect(url) as ws:
                ending = json.loads(await ws.recv())
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
    assert ending["type"] == "end" and ws.close_code == 4403


async def test_a_grant_signed_by_another_key_is_ignored(
    gateway: Gateway, requester: Requester
) -> None:
    forged = _add(gateway, _grant(requester), key=generate_signing_key())
    assert (await _live(requester, forged.grant_id)).status_code == 403
    [listed] = (await requester.client.get("/api/v1/grants")).json()["grants"]
    assert listed["status"] == "ignored"


async def test_a_grant_widened_on_disk_is_ignored_after_a_restart(
    tmp_path: Path, site: SiteConfig
) -> None:
    gateway = await started(site)
    try:
        requester = Requester(gateway, "Widener")
        grant = _add(gateway, _grant(requester))
        path = gateway.store.path("grants.json")
        widened = grant.model_copy(update={"cameras": frozenset({PORCH, "virtual:gw-garden"})})
        save_grants(path, [widened])
    finally:
        await gateway.aclose()
    gateway = await started(site)
    try:
        again = Requester(gateway, "Widener")
        again.key, again.principal = requester.key, requester.principal
        again.client.auth = requester.auth
        async with again.client:
            for camera in ("garden", "porch"):
                assert (await _live(again, grant.grant_id, camera)).status_code == 403
    finally:
        await gateway.aclose()


async def test_footage_outside_the_window_is_refused(
    gateway: Gateway, requester: Requester
) -> None:
    now = datetime.now(UTC)
    window = {"footage_from": now - timedelta(hours=3), "footage_until": now - timedelta(hours=2)}
    grant = _add(gateway, _grant(requester, actions=RECORDED_ACTIONS, **window))
    later = await _export(requester, grant.grant_id, now - timedelta(minutes=30), now)
    assert later.status_code == 403 and "outside the footage window" in later.json()["error"]
    straddling = await _export(requester, grant.grant_id, now - timedelta(hours=2, minutes=10),
                               now - timedelta(hours=1, minutes=55))
    assert straddling.status_code == 403
    # A recorded grant does not open live video either.
    assert (await _live(requester, grant.grant_id)).status_code == 403
    refusals = [r for r in gateway.audit.records()
                if r.get("event") == "access" and r.get("allowed") is False]
    assert {r["action"] for r in refusals} >= {"record"}


@pytest.mark.parametrize("name", [
    "..%2F..%2Fowner.key", "..%2Fsecret", "%2E%2E", "0123456789abcdef0123456789abcde%2F",
    "0123456789ABCDEF0123456789ABCDEF", "x" * 32,
])
async def test_export_names_cannot_reach_outside_the_exports(
    requester: Requester, owner: OwnerClient, name: str
) -> None:
    for kind in ("clip.mp4", "manifest.json", "..%2F..%2Fowner.key"):
        mine = await requester.client.get(f"/api/v1/exports/{name}/{kind}")
        assert mine.status_code == 404, (name, kind)
        owners = await owner.get(f"/owner/api/exports/{name}/{kind}")
        assert owners.status_code == 404, (name, kind)


async def test_clip_paths_are_hex_ids_only(gateway: Gateway) -> None:
    for name in ("../owner.key", "/etc/passwd", "a" * 31, "a" * 33, "..\\x" + "a" * 29):
        with pytest.raises(SharingError):
            gateway.clip_path(name)
    assert gateway.clip_path("a" * 32).parent == gateway.store.exports_dir
