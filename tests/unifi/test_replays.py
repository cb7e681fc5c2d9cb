"""respx replays of consoles' answers (redacted): several firmware families, hostile ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import camsdk
from camsdk.drivers.unifi._model import parse_bootstrap

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://console.test"


def _bootstrap(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def console_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as router:
        router.post("/api/auth/login").respond(
            200, json={}, headers={"Set-Cookie": "TOKEN=tok123; path=/; secure; httponly",
                                   "X-CSRF-Token": "csrf123"})
        yield router


def _options(options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "tls": "system"}


def test_an_old_unvr_bootstrap_reads_every_camera_and_port() -> None:
    console, cameras = parse_bootstrap(_bootstrap("bootstrap_unvr_protect2.json"))
    assert (console.model, console.rtsps_port, console.version) == ("UNVR", 7441, "2.2.11")
    lobby, ptz, garage = cameras
    assert [c.quality for c in lobby.usable_channels] == ["high"]
    assert lobby.privacy_zones == ("Desk",) and not lobby.privacy_full
    assert (ptz.connected, ptz.ptz, ptz.state) == (False, True, "DISCONNECTED")
    assert garage.usable_channels == () and garage.model == "UVC G4 Bullet"


def test_a_new_doorbell_bootstrap_reads_hevc_and_the_package_channel() -> None:
    _, (door,) = parse_bootstrap(_bootstrap("bootstrap_udm_protect5.json"))
    assert door.doorbell and door.codec == "h265"
    assert "licensePlate" in door.smart_types
    assert [c.quality for c in door.channels] == ["high", "package"]


async def test_a_replayed_unvr_lists_its_cameras(console_api: respx.MockRouter,
                                                options: dict[str, Any]) -> None:
    console_api.get("/proxy/protect/api/bootstrap").respond(
        200, json=_bootstrap("bootstrap_unvr_protect2.json"))
    async with camsdk.hub("unifi://console.test", **_options(options)) as hub:
        listing = await hub.listing()
    assert [(c.name, c.online, c.reason) for c in listing] == [
        ("Lobby", True, ""), ("Yard PTZ", False, "camera is disconnected"),
        ("Garage", False, "every channel has RTSP off")]


async def test_an_oversized_bootstrap_is_refused_at_the_cap(console_api: respx.MockRouter,
                                                            options: dict[str, Any]) -> None:
    console_api.get("/proxy/protect/api/bootstrap").respond(
        200, content=b"{}", headers={"Content-Length": str(64 * 1024 * 1024)})
    with pytest.raises(camsdk.CameraProtocolError, match="cap"):
        await camsdk.hub("unifi://console.test", **_options(options)).connect()


async def test_a_bootstrap_that_is_not_json_is_a_protocol_error(
    console_api: respx.MockRouter, options: dict[str, Any]
) -> None:
    console_api.get("/proxy/protect/api/bootstrap").respond(
        200, content=b"<html>UniFi OS is updating</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(camsdk.CameraProtocolError, match="JSON"):
        await camsdk.hub("unifi://console.test", **_options(options)).connect()


async def test_a_bootstrap_of_wrong_types_is_a_protocol_error(
    console_api: respx.MockRouter, options: dict[str, Any]
) -> None:
    console_api.get("/proxy/protect/api/bootstrap").respond(200, json={"nvr": [], "cameras": 7})
    with pytest.raises(camsdk.CameraProtocolError, match="console"):
        await camsdk.hub("unifi://console.test", **_options(options)).connect()


async def test_a_login_answered_with_a_server_error_is_a_device_error(
    options: dict[str, Any]
) -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as router:
        router.post("/api/auth/login").mock(return_value=httpx.Response(502, text="bad gateway"))
        with pytest.raises(camsdk.DeviceError) as info:
            await camsdk.hub("unifi://console.test", **_options(options)).connect()
    assert info.value.code == "502"
