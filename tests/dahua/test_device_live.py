"""Snapshots, hub listing, PTZ, two-way audio and discovery against the simulated device."""

from __future__ import annotations

import contextlib

import anyio
import numpy as np
import pytest

import camsdk
from camsdk import AuthenticationError, Capability, Credentials, UnsupportedCapabilityError
from camsdk.drivers.dahua import _discovery
from camsdk.drivers.dahua._discovery import dhip_frame, parse_answer, probe
from camsdk.testing import DahuaDevice

from ._helpers import FIXTURES
from .conftest import FAST

pytestmark = pytest.mark.anyio


async def test_a_snapshot_error_body_is_retried_and_the_picture_comes_from_the_device(
    ipc: DahuaDevice,
) -> None:
    ipc.error_snapshots(1)
    async with camsdk.open(ipc.camera_url(), credentials=ipc.credentials, config=FAST) as cam:
        snap = await cam.snapshot()
    assert snap.source == "device" and (snap.width, snap.height) == (320, 240)
    assert ipc.requests_to("/cgi-bin/snapshot.cgi") == 2


async def test_a_recorder_channel_without_snapshot_cgi_uses_the_onvif_snapshot() -> None:
    async with DahuaDevice(kind="nvr", channels=2, snapshot_errors_on=[2]) as device:
        async with camsdk.open(device.camera_url(2), credentials=device.credentials,
                               config=FAST) as cam:
            snap = await cam.snapshot()
        assert device.requests_to("/onvifsnapshot/media_service/snapshot") == 1
    assert snap.source == "device"


async def test_when_every_device_endpoint_fails_the_snapshot_comes_from_the_stream() -> None:
    async with DahuaDevice(snapshot_errors_on=[1]) as device:
        bomb = (FIXTURES / "hostile" / "xml_bomb.xml").read_text()
        device.routes["onvif_snapshot"].handler = camsdk.testing.Response(
            200, bomb, content_type="image/jpeg")
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST) as cam:
            snap = await cam.snapshot()
    assert snap.source == "stream" and snap.jpeg[:2] == b"\xff\xd8"


async def test_the_hub_lists_channels_with_titles_and_reports_unusable_ones(
    nvr: DahuaDevice,
) -> None:
    async with camsdk.hub(nvr.url, credentials=nvr.credentials, config=FAST) as hub:
        listing = await hub.listing()
        cams = await hub.cameras()
    assert [(c.name, c.online) for c in listing] == [
        ("Camera 1", True), ("Camera 2", True), ("Camera 3", False), ("Camera 4", False)]
    assert "Disconnected" in listing[2].reason
    assert "disables the main stream" in listing[3].reason
    assert [c.id for c in listing] == [f"dahua:SIM0000DAHUANVR/{n}" for n in range(1, 5)]
    assert len(cams) == 2


async def test_hub_cameras_share_the_hubs_login_and_device_read(nvr: DahuaDevice) -> None:
    async with camsdk.hub(nvr.url, credentials=nvr.credentials, config=FAST) as hub:
        reads = nvr.requests_to("/cgi-bin/magicBox.cgi")
        for cam in await hub.cameras():
            await cam.connect()
            assert cam.info.serial == "SIM0000DAHUANVR"
        assert nvr.requests_to("/cgi-bin/magicBox.cgi") == reads


async def test_a_hub_with_a_wrong_password_fails_once_and_never_retries(
    nvr: DahuaDevice,
) -> None:
    hub = camsdk.hub(nvr.url, credentials=Credentials(nvr.username, "nope"), config=FAST)
    with pytest.raises(AuthenticationError):
        await hub.connect()
    await hub.aclose()
    assert nvr.failed_logins == 1 and not nvr.locked


async def test_a_32_channel_recorder_lists_every_channel() -> None:
    async with DahuaDevice(kind="nvr", channels=32, rtsp=False) as device:
        async with camsdk.hub(device.url, credentials=device.credentials, config=FAST) as hub:
            listing = await hub.listing()
    assert len(listing) == 32 and listing[31].name == "Camera 32"


async def test_continuous_moves_send_dahua_codes_and_stop_the_same_ones(
    ipc: DahuaDevice,
) -> None:
    async with camsdk.open(ipc.camera_url(), credentials=ipc.credentials, config=FAST) as cam:
        await cam.ptz.move(pan=0.5, tilt=-1.0, zoom=0.1)
        await cam.ptz.stop()
    assert ipc.ptz_log == [
        ("start", "RightDown", {"arg1": "8", "arg2": "4", "arg3": "0"}),
        ("start", "ZoomTele", {"arg1": "0", "arg2": "1", "arg3": "0"}),
        ("stop", "RightDown", {"arg1": "0", "arg2": "0", "arg3": "0"}),
        ("stop", "ZoomTele", {"arg1": "0", "arg2": "0", "arg3": "0"}),
    ]


async def test_presets_are_listed_visited_and_stored(ipc: DahuaDevice) -> None:
    async with camsdk.open(ipc.camera_url(), credentials=ipc.credentials, config=FAST) as cam:
        presets = await cam.ptz.presets()
        await cam.ptz.goto_preset("2")
        stored = await cam.ptz.set_preset("Porch")
        status = await cam.ptz.status()
    assert [(p.token, p.name) for p in presets] == [("1", "Gate"), ("2", "Drive")]
    assert (stored.token, stored.name) == ("3", "Porch") and ipc.presets[3] == "Porch"
    assert status.pan == pytest.approx(20.0 / 180.0 - 1.0)


async def test_a_channel_without_ptz_reports_none(nvr: DahuaDevice) -> None:
    async with camsdk.open(nvr.camera_url(1), credentials=nvr.credentials, config=FAST) as cam:
        assert Capability.PTZ not in cam.capabilities
        with pytest.raises(UnsupportedCapabilityError):
            cam.ptz  # noqa: B018


async def test_talk_uploads_g711_alaw_to_the_speaker(ipc: DahuaDevice) -> None:
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 8000).astype("<i2")
    async with camsdk.open(ipc.camera_url(), credentials=ipc.credentials, config=FAST) as cam:
        assert Capability.TWO_WAY_AUDIO in cam.capabilities
        with anyio.fail_after(15):
            async with cam.talk() as speaker:
                assert speaker.format.codec == "pcm_alaw"
                await speaker.send(tone.tobytes(), sample_rate=8000)
        await ipc.wait_until(lambda d: len(d.talk_uploads) == 1)
    content_type, body = ipc.talk_uploads[0]
    assert content_type == "Audio/G.711A"
    assert len(body) == 8000  # one second of 8 kHz G.711: a byte per sample


async def test_a_device_without_a_speaker_has_no_talk(nvr: DahuaDevice) -> None:
    async with camsdk.open(nvr.camera_url(1), credentials=nvr.credentials, config=FAST) as cam:
        assert Capability.TWO_WAY_AUDIO not in cam.capabilities
        with pytest.raises(UnsupportedCapabilityError):
            async with cam.talk():
                pass


async def test_discovery_finds_the_simulated_device_on_loopback(ipc: DahuaDevice) -> None:
    with anyio.fail_after(5):
        async with contextlib.aclosing(probe(2.0, target=ipc.discovery_target)) as results:
            found = [camera async for camera in results]
    assert [c.url for c in found] == [f"dahua://127.0.0.1:{ipc.http.port}"]
    assert (found[0].model, found[0].name, found[0].driver) == (
        "IPC-HDW5231R-ZE", "Front Door", "dahua")


async def test_camsdk_discover_reaches_the_dahua_probe(
    ipc: DahuaDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = ipc.discovery_target
    monkeypatch.setattr(_discovery, "MULTICAST_ADDRESS", host)
    monkeypatch.setattr(_discovery, "MULTICAST_PORT", port)
    with anyio.fail_after(5):
        found = [c async for c in camsdk.discover(timeout=0.5, schemes={"dahua"})]
    assert [c.url for c in found] == [f"dahua://127.0.0.1:{ipc.http.port}"]


@pytest.mark.parametrize(
    "datagram",
    [b"", b"garbage", b"\x20\x00\x00\x00PIHD" + bytes(24) + b"{}",
     dhip_frame(b"[" * 100_000), dhip_frame(b'{"params":{"deviceInfo":{}}}'),
     dhip_frame(b"x" * 70_000)],
)
def test_discovery_answers_that_are_not_dahua_devices_are_ignored(datagram: bytes) -> None:
    assert parse_answer(datagram, "192.0.2.9") is None


def test_a_discovery_answer_names_the_sender_not_the_claimed_address() -> None:
    answer = dhip_frame(b'{"params":{"deviceInfo":{"SerialNo":"X1","DeviceType":"IPC-1",'
                        b'"HttpPort":8080,"IPv4Address":{"IPAddress":"10.0.0.9"}}}}')
    found = parse_answer(answer, "192.0.2.9")
    assert found is not None and found[1].url == "dahua://192.0.2.9:8080"
