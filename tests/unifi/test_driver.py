"""The camera driver and hub against the simulated console: identity, media, control."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import camsdk
from camsdk import Capability
from camsdk.drivers.unifi._discovery import parse_answer
from camsdk.drivers.unifi._model import normalise_rtsps
from camsdk.testing import UnifiConsole

from .conftest import PASSWORD, USER

pytestmark = pytest.mark.anyio


async def test_a_camera_is_found_by_name_and_reports_its_identity(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with camsdk.open(f"{console.url}/front%20door", **options) as cam:
        info = cam.info
    assert (info.vendor, info.model, info.serial) == ("Ubiquiti", "G4 Doorbell Pro",
                                                      "F4E2C6000000")
    assert [(p.name, p.width, p.height) for p in info.profiles] == [
        ("high", 1920, 1080), ("medium", 1280, 720), ("low", 640, 360)]
    assert info.extra["doorbell"] == "1"


async def test_an_unknown_camera_is_a_configuration_error_naming_the_known(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    with pytest.raises(camsdk.ConfigurationError, match="Front Door"):
        await camsdk.open(f"{console.url}/garage", **options).connect()


async def test_the_hub_lists_unusable_cameras_as_offline_with_a_reason(
    options: dict[str, Any]
) -> None:
    async with UnifiConsole(cameras=4, username=USER, password=PASSWORD, offline=[2],
                            no_rtsp=[3]) as console:
        async with camsdk.hub(console.url, **options) as hub:
            listing = await hub.listing()
            usable = await hub.cameras()
    assert [(c.name, c.online) for c in listing] == [
        ("Front Door", True), ("Driveway PTZ", True), ("Camera 3", False), ("Camera 4", False)]
    assert listing[2].reason == "camera is disconnected"
    assert listing[3].reason == "every channel has RTSP off"
    assert len(usable) == 2


async def test_a_snapshot_error_page_is_retried_then_the_stream_is_used(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with camsdk.open(console.camera_url(0), **options) as cam:
        console.snapshot_errors = 1
        retried = await cam.snapshot()
        console.snapshot_errors = 2
        fallback = await cam.snapshot()
    assert retried.source == "device"
    assert fallback.source == "stream"


async def test_privacy_mode_is_a_full_frame_zone_switched_both_ways(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with camsdk.open(console.camera_url(0), **options) as cam:
        assert cam.supports(Capability.PRIVACY_MODE)
        assert cam.privacy_mode is False
        await cam.set_privacy_mode(True)
        zones = console.cameras[0]["privacyZones"]
        assert [z["name"] for z in zones] == ["camsdk privacy mode"]
        with pytest.raises(camsdk.PrivacyModeError):
            await cam.snapshot()
        await cam.set_privacy_mode(False)
        assert console.cameras[0]["privacyZones"] == []
        assert (await cam.snapshot()).source == "device"


async def test_privacy_mode_set_on_the_console_is_read_at_connect(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    console.cameras[0]["privacyZones"] = [
        {"id": 0, "name": "Owner", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
    async with camsdk.open(console.camera_url(0), **options) as cam:
        assert cam.privacy_mode is True
        assert cam.supports(Capability.PRIVACY_MASK)


async def test_ptz_moves_stops_and_keeps_presets(console: UnifiConsole,
                                                 options: dict[str, Any]) -> None:
    async with camsdk.open(console.camera_url(1), **options) as cam:
        assert cam.supports(Capability.PTZ | Capability.PTZ_PRESETS)
        await cam.ptz.move(pan=0.5, tilt=-0.25, zoom=0.0)
        await cam.ptz.stop()
        status = await cam.ptz.status()
        preset = await cam.ptz.set_preset("gate")
        presets = await cam.ptz.presets()
        await cam.ptz.goto_preset(preset.token)
    assert console.moves[0] == {"type": "continuous", "payload": {"x": 500, "y": -250, "z": 0}}
    assert console.moves[1]["payload"] == {"x": 0, "y": 0, "z": 0}
    assert (status.pan, status.tilt, status.zoom) == (0.0, 0.0, 0.0)
    assert [(p.token, p.name) for p in presets] == [("0", "gate")]
    assert console.moves[-1] == {"type": "goto", "slot": 0}


async def test_a_camera_without_ptz_refuses_it(console: UnifiConsole,
                                               options: dict[str, Any]) -> None:
    async with camsdk.open(console.camera_url(0), **options) as cam:
        with pytest.raises(camsdk.UnsupportedCapabilityError):
            cam.ptz  # noqa: B018


async def test_integration_streams_are_normalised_and_read(console: UnifiConsole,
                                                           options: dict[str, Any]) -> None:
    from .conftest import API_KEY

    keyed = {k: v for k, v in options.items() if k != "credentials"}
    async with camsdk.open(console.camera_url(0), **keyed, api_key=API_KEY) as cam:
        async with cam.stream(profile="low") as stream, stream.packets(audio=False) as it:
            first = await asyncio.wait_for(anext(aiter(it)), 10)
    assert first is not None
    path = next(r for r in console.http.requests if r.path.endswith("rtsps-stream"))
    assert path.method == "GET"


def test_rtsps_urls_lose_enable_srtp_and_keep_their_path() -> None:
    url = normalise_rtsps("rtsps://192.168.1.1:7441/AbCdEf?enableSrtp", "nvr.local")
    assert url == "rtsps://nvr.local:7441/AbCdEf"
    assert normalise_rtsps("rtsp://10.0.0.1/x?enableSrtp&a=1", "h", 7441) == \
        "rtsps://h:7441/x?a=1"


def test_a_discovery_answer_names_the_console() -> None:
    tlv = bytes([0x02, 0, 10]) + bytes.fromhex("245a4c000001") + bytes([192, 0, 2, 7])
    tlv += bytes([0x0B, 0, 4]) + b"home" + bytes([0x0C, 0, 6]) + b"UDMPRO"
    answer = bytes([1, 0]) + len(tlv).to_bytes(2, "big") + tlv
    fields = parse_answer(answer, "127.0.0.1")
    assert fields == {"mac": "24:5a:4c:00:00:01", "address": "192.0.2.7", "hostname": "home",
                      "platform": "UDMPRO"}
    assert parse_answer(b"\x02\x00\x00\x00", "127.0.0.1") is None


async def test_discovery_finds_a_console_answering_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from camsdk.drivers.unifi import _discovery

    tlv = bytes([0x02, 0, 10]) + bytes.fromhex("245a4c000001") + bytes([127, 0, 0, 1])
    tlv += bytes([0x0C, 0, 4]) + b"UNVR"
    answer = bytes([1, 0]) + len(tlv).to_bytes(2, "big") + tlv

    class Responder(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            if data == _discovery.PROBE:
                self.transport.sendto(answer, addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
    try:
        monkeypatch.setattr(_discovery, "PROBE_ADDRESS", "127.0.0.1")
        monkeypatch.setattr(_discovery, "PROBE_PORT", transport.get_extra_info("sockname")[1])
        found = [c async for c in _discovery.probe(0.5)]
    finally:
        transport.close()
    assert [(c.url, c.model) for c in found] == [("unifi://127.0.0.1", "UNVR")]
