"""End to end, with the ONVIF simulator and the virtual hub: discovery -> adopt -> request ->
approve -> live view and clip -> revoke -> audit verify -> the transparency report's counts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
import websockets

from camsdk.cli import main
from camsdk.drivers.onvif import _discovery
from camsdk.privacy import save_public_key
from camsdk.serve import Gateway, create_app
from camsdk.serve._app import running
from camsdk.serve._footage import list_segments
from camsdk.testing import wait_until
from camsdk.testing._onvif_device import OnvifDevice

from ._helpers import BASE, WAIT, OwnerClient, Requester, login, site_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ONVIF_USER, ONVIF_PASSWORD = "admin", "e2e-Onvif-pw"


@pytest.fixture
async def onvif_camera(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OnvifDevice]:
    async with OnvifDevice(username=ONVIF_USER, password=ONVIF_PASSWORD,
                           name="Front door") as device:
        host, port = device.discovery_target
        monkeypatch.setattr(_discovery, "MULTICAST_ADDRESS", host)
        monkeypatch.setattr(_discovery, "MULTICAST_PORT", port)
        monkeypatch.setenv("E2E_DOOR_PASSWORD", ONVIF_PASSWORD)
        yield device


async def test_from_discovery_to_a_verified_audit_log_and_a_matching_report(
    onvif_camera: OnvifDevice, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_config(
        tmp_path, cameras=[],
        hubs=[{"name": "nvr", "url": "virtual://e2e-site?cameras=2&size=320x240&fps=15&gop=15"}],
        discovery={"enabled": True, "timeout": 1.0, "schemes": ["onvif"]}, areas={},
    )
    gateway = await Gateway(config).start()
    try:
        transport = httpx.ASGITransport(app=create_app(gateway), client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            owner = OwnerClient(client, (await login(client)).json()["csrf"])
            clip_seconds = await _story(gateway, owner, tmp_path)
        checkpoint = gateway.audit.mirror.path
    finally:
        await gateway.aclose()

    # The audit log verifies with the owner's key, up to its mirrored last checkpoint.
    owner_pub = tmp_path / "owner.pub"
    save_public_key(gateway.key, owner_pub)
    [log_file] = gateway.audit.files()
    capsys.readouterr()
    assert main(["audit", "verify", str(log_file), "--key", str(owner_pub),
                 "--checkpoint", str(checkpoint)]) == 0
    assert "chain intact" in capsys.readouterr().out

    # The report counts what happened, from that log.
    report = gateway.report().as_dict()
    totals = report["totals"]
    assert (totals["received"], totals["approved"], totals["declined"]) == (3, 2, 1)
    assert totals["live_minutes"] > 0
    assert totals["recorded_minutes"] == pytest.approx(clip_seconds / 60, abs=0.01)
    rows = {r["requester"]: r for r in report["rows"]}
    assert rows["Neighbourhood watch"]["live_minutes"] > 0
    assert rows["Insurer"]["recorded_minutes"] == totals["recorded_minutes"]
    assert rows["Curious"]["declined"] == 1


async def _story(gateway: Gateway, owner: OwnerClient, tmp_path: Path) -> float:
    """Adopt, request, approve, watch, export, revoke; return the clip's footage seconds."""
    with anyio.fail_after(WAIT):
        await wait_until(lambda: len(gateway.inventory.findings) == 3)
    findings = (await owner.overview())["findings"]
    [door] = [f for f in findings if f["source"] == "discovery"]
    hub_cameras = sorted((f for f in findings if f["source"] == "hub:nvr"),
                         key=lambda f: f["name"])
    assert door["name"] == "Front door" and len(hub_cameras) == 2
    for body in ({"finding_id": door["finding_id"], "name": "door", "username": ONVIF_USER,
                  "password_env": "E2E_DOOR_PASSWORD", "record": True},
                 {"finding_id": hub_cameras[0]["finding_id"], "name": "drive"}):
        response = await owner.post("/owner/api/adopt", body)
        assert response.status_code == 201, response.text
    with anyio.fail_after(WAIT):
        await wait_until(lambda: all(s.online for s in gateway.inventory.slots.values()))
    assert {c["name"] for c in (await owner.overview())["cameras"]} == {"door", "drive"}
    assert len((await owner.overview())["findings"]) == 1  # the other hub camera

    watcher, insurer, curious = (Requester(gateway, n) for n in
                                 ("Neighbourhood watch", "Insurer", "Curious"))
    async with watcher.client, insurer.client, curious.client:
        # Live: the neighbourhood watch sees the drive.
        [live_grant] = await owner.approve(await watcher.submit(cameras=["drive"]))
        ticket = (await watcher.client.post("/api/v1/live", json={
            "grant_id": live_grant, "camera": "drive"})).json()["ticket"]
        async with running(gateway) as base:
            url = base.replace("http://", "ws://") + f"/api/v1/live/ws?ticket={ticket}"
            with anyio.fail_after(WAIT):
                async with websockets.connect(url) as ws:
                    assert json.loads(await ws.recv())["type"] == "init"
                    for _ in range(15):
                        assert isinstance(await ws.recv(), bytes)

        # Recorded: the insurer gets a clip of the door's kept footage.
        folder = gateway.inventory.footage_dir("door")
        with anyio.fail_after(WAIT):
            await wait_until(lambda: len(list_segments(folder)) >= 2)
        kept = list_segments(folder)
        request_id = await insurer.submit(
            cameras=["door"], mode="recorded", footage_from=kept[0].start.isoformat(),
            footage_until=kept[-1].end.isoformat(), purpose="insurance claim")
        [clip_grant] = await owner.approve(request_id)
        started = await insurer.client.post("/api/v1/exports", json={
            "grant_id": clip_grant, "camera": "door"})
        assert started.status_code == 202, started.text
        export_id = started.json()["export_id"]
        with anyio.fail_after(WAIT):
            await wait_until(lambda: gateway.exports[export_id].state != "pending")
        clip = tmp_path / "door.mp4"
        clip.write_bytes((await insurer.client.get(
            f"/api/v1/exports/{export_id}/clip.mp4")).content)
        clip.with_name("door.mp4.manifest.json").write_bytes((await insurer.client.get(
            f"/api/v1/exports/{export_id}/manifest.json")).content)
        owner_pub = tmp_path / "owner-for-clip.pub"
        save_public_key(gateway.key, owner_pub)
        assert main(["export", "verify", str(clip), "--key", str(owner_pub)]) == 0

        # Declined: curiosity is not a purpose the owner shares for.
        curious_request = await curious.submit(cameras=["drive"], purpose="just looking")
        await owner.post(f"/owner/api/requests/{curious_request}/deny",
                         {"note": "not a reason"})

        # Revoked: the watch's grant ends; the API refuses a new view.
        await owner.post(f"/owner/api/grants/{live_grant}/revoke")
        refused = await watcher.client.post("/api/v1/live", json={
            "grant_id": live_grant, "camera": "drive"})
        assert refused.status_code == 403
        assert datetime.now(UTC) - kept[0].start < timedelta(minutes=5)
    return gateway.exports[export_id].footage_seconds
