"""End to end against `OnvifDevice`: real SOAP over loopback HTTP and real RTSP media."""

from __future__ import annotations

import contextlib
import logging

import anyio
import pytest

import camsdk
from camsdk import Capability, Credentials, EventKind, MediaPacket, VideoFrame
from camsdk.drivers.onvif import _discovery
from camsdk.testing._onvif_device import OnvifDevice

from ._helpers import PASSWORD, USER

pytestmark = pytest.mark.anyio

CREDS = Credentials(USER, PASSWORD)


async def test_from_discovery_to_a_decoded_frame_and_from_a_ptz_move_to_an_event(
    onvif_device: OnvifDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = onvif_device.discovery_target
    monkeypatch.setattr(_discovery, "MULTICAST_ADDRESS", host)
    monkeypatch.setattr(_discovery, "MULTICAST_PORT", port)
    with anyio.fail_after(20):
        async with contextlib.aclosing(camsdk.discover(timeout=2.0, schemes={"onvif"})) as found:
            camera = await anext(found)
        async with camsdk.open(camera.url, credentials=CREDS) as cam:
            async with cam.stream() as stream, stream.frames(format="rgb24") as frames:
                frame = await anext(f async for f in frames if isinstance(f, VideoFrame))
            assert frame.to_ndarray().shape == (120, 160, 3)
            async with cam.events(kinds={EventKind.MOTION}) as events:
                await onvif_device.wait_until(lambda d: d.subscriptions == 1)
                await cam.ptz.relative(pan=0.5)
                event = await anext(events)
            status = await cam.ptz.status()
    assert event.kind is EventKind.MOTION and event.active
    assert event.zone == "MyMotionDetectorRule" and event.device_time is not None
    assert status.pan == pytest.approx(0.5)
    assert "Unsubscribe" in onvif_device.requests


async def test_a_device_that_demands_http_digest(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with OnvifDevice(username=USER, password=PASSWORD, auth="digest") as device:
        with anyio.fail_after(10):
            async with camsdk.open(device.url, credentials=CREDS) as cam:
                assert cam.info.extra["auth"] == "digest"
                await cam.ptz.absolute(0.25, -0.25, 0.5)
                status = await cam.ptz.status()
                snap = await cam.snapshot(source="device")
    assert (status.pan, status.tilt, status.zoom) == pytest.approx((0.25, -0.25, 0.5))
    assert snap.source == "device"
    assert caplog.records and PASSWORD not in caplog.text


async def test_a_device_whose_clock_is_hours_off_accepts_our_tokens() -> None:
    offset = -4 * 3600 - 17 * 60
    async with OnvifDevice(
        username=USER, password=PASSWORD, auth="wsse", clock_offset=offset
    ) as device:
        with anyio.fail_after(10):
            async with camsdk.open(device.url, credentials=CREDS) as cam:
                measured = float(cam.info.extra["clock_offset"])
    assert measured == pytest.approx(offset, abs=2)
    assert device.faults_sent == []


async def test_firmware_that_wants_credentials_for_get_services_is_asked_again_signed() -> None:
    async with OnvifDevice(
        username=USER, password=PASSWORD, auth="wsse", pre_auth={"GetSystemDateAndTime"}
    ) as device:
        with anyio.fail_after(10):
            async with camsdk.open(device.url, credentials=CREDS) as cam:
                assert cam.info.model == "OnvifSim"
    assert device.requests.count("GetServices") == 2
    assert device.faults_sent == ["GetServices"]


async def test_wrong_credentials_are_refused() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD, auth="wsse") as device:
        cam = camsdk.open(device.url, credentials=Credentials(USER, "wrong"))
        with anyio.fail_after(10), pytest.raises(camsdk.AuthenticationError):
            await cam.connect()


async def test_subscriptions_on_a_device_that_caps_their_lifetime_are_renewed() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD, max_subscription=1.0) as device:
        with anyio.fail_after(15):
            async with camsdk.open(device.url, credentials=CREDS, pull_timeout=0.3) as cam:
                async with cam.events(kinds={EventKind.TAMPER}) as events:
                    await device.wait_until(lambda d: d.renewals >= 2)
                    device.emit("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "true"})
                    event = await anext(events)
    assert event.kind is EventKind.TAMPER
    assert device.requests.count("CreatePullPointSubscription") == 1


async def test_an_nvr_hub_offers_one_camera_per_channel_with_its_own_events() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD, channels=2) as device:
        with anyio.fail_after(15):
            # Credentials in the hub's URL reach every channel's stream URL too.
            url = device.url.replace("onvif://", f"onvif://{USER}:{PASSWORD}@")
            async with camsdk.hub(url) as hub:
                listing = await hub.listing()
                first, second = await hub.cameras()
                before = len(device.requests)
                await first.connect()
                await second.connect()
                assert len(device.requests) == before, "channels share the hub's session"
                tokens = [p.token for p in second.info.profiles]
                async with second.stream("Profile_201") as stream:
                    # The simulator's RTSP server wants the credentials: they got there.
                    assert stream.info.width > 0
                ids = {first.info.id, second.info.id}
                assert Capability.PTZ in second.capabilities
                async with second.events(kinds={EventKind.MOTION}) as events:
                    await device.wait_until(lambda d: d.subscriptions == 1)
                    await first.ptz.relative(pan=0.1)  # channel 1 moves: not ours
                    await second.ptz.relative(tilt=0.1)
                    event = await anext(events)
    assert [c.extra["video_source"] for c in listing] == ["VideoSource_1", "VideoSource_2"]
    assert tokens == ["Profile_201", "Profile_202"]
    assert event.extra["source"]["VideoSourceConfigurationToken"] == "VideoSourceConfig_2"
    assert ids == {"onvif:camsdk-SIM-0001/VideoSource_1", "onvif:camsdk-SIM-0001/VideoSource_2"}


async def test_snapshot_falls_back_to_a_stream_keyframe_without_a_snapshot_uri() -> None:
    async with OnvifDevice(
        username=USER, password=PASSWORD, unsupported={"GetSnapshotUri"}
    ) as device:
        with anyio.fail_after(15):
            async with camsdk.open(device.url, credentials=CREDS) as cam:
                snap = await cam.snapshot()
    assert snap.source == "stream" and (snap.width, snap.height) == (160, 120)


async def test_a_media2_only_device_streams_h265() -> None:
    async with OnvifDevice(username=USER, password=PASSWORD, media="2", codec="h265") as device:
        with anyio.fail_after(15):
            async with camsdk.open(device.url, credentials=CREDS) as cam:
                assert cam.info.profiles[0].codec == "hevc"
                async with cam.stream() as stream, stream.packets(audio=False) as packets:
                    packet = await anext(p async for p in packets if isinstance(p, MediaPacket))
                    codec = stream.info.codec
    assert codec == "hevc" and packet.keyframe
    assert "GetCapabilities" not in device.requests


async def test_a_device_behind_nat_is_reached_at_the_callers_address(
    loopback_only: list[object],
) -> None:
    async with OnvifDevice(
        username=USER, password=PASSWORD, advertised_host="192.0.2.7", embed_credentials=True
    ) as device:
        with anyio.fail_after(15):
            async with camsdk.open(device.url, credentials=CREDS) as cam:
                snap = await cam.snapshot(source="device")
                async with cam.stream() as stream, stream.packets(audio=False) as packets:
                    await anext(p async for p in packets if isinstance(p, MediaPacket))
    assert snap.source == "device" and snap.jpeg[:2] == b"\xff\xd8"
    assert loopback_only == []  # nothing tried 192.0.2.7


async def test_presets_home_and_continuous_moves_on_the_simulated_head(
    onvif_device: OnvifDevice,
) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(onvif_device.url, credentials=CREDS) as cam:
            assert Capability.PTZ_PRESETS in cam.capabilities
            await cam.ptz.absolute(0.5, 0.25, 0.75)
            preset = await cam.ptz.set_preset("gate")
            await cam.ptz.home()
            at_home = await cam.ptz.status()
            await cam.ptz.goto_preset(preset.token)
            at_preset = await cam.ptz.status()
            listed = await cam.ptz.presets()
            await cam.ptz.move(pan=-0.5)
            moving = await cam.ptz.status()
            await cam.ptz.stop()
            stopped = await cam.ptz.status()
    assert (at_home.pan, at_home.tilt, at_home.zoom) == (0.0, 0.0, 0.0)
    assert (at_preset.pan, at_preset.tilt, at_preset.zoom) == pytest.approx((0.5, 0.25, 0.75))
    assert [(p.token, p.name) for p in listed] == [(preset.token, "gate")]
    assert moving.moving and not stopped.moving
    assert stopped.pan < at_preset.pan
