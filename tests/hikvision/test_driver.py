"""The Hikvision camera against the simulator: identity, profiles, ports, snapshots, talk."""

from __future__ import annotations

import anyio
import pytest

import camsdk
from camsdk import Capability
from camsdk.drivers.hikvision._driver import parse_channel
from camsdk.testing import HikvisionDevice

from ._helpers import CREDS, FAST, PASSWORD, USER

pytestmark = pytest.mark.anyio


def test_channels_and_stream_ids_in_the_url() -> None:
    assert parse_channel("") == (1, None)
    assert parse_channel("/3") == (3, None)
    assert parse_channel("/101") == (1, "main")
    assert parse_channel("/102") == (1, "sub")
    assert parse_channel("/1203") == (12, "third")
    assert parse_channel("/10101") == (101, "main")
    with pytest.raises(ValueError):
        parse_channel("/front")


def test_a_bad_channel_is_a_configuration_error_before_any_io() -> None:
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.open("hikvision://127.0.0.1/zero")
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.open("hikvision://127.0.0.1/1?nosuch=1")


async def test_identity_comes_from_device_info(camera: HikvisionDevice) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        info = cam.info
    assert info.vendor == "Hikvision"
    assert info.model == camera.model
    assert info.serial == camera.serial
    assert info.firmware == camera.firmware
    assert info.id == f"hikvision:{camera.serial}/1"
    assert info.extra["mac"] == "44:19:b6:00:00:01"
    assert info.extra["firmware_date"] == "build 231110"


async def test_profiles_carry_codec_size_and_fps_from_the_stream_config(
    camera: HikvisionDevice,
) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        main, sub = cam.info.profiles
    assert (main.name, main.token, sub.name, sub.token) == ("main", "101", "sub", "102")
    assert (main.codec, main.width, main.height, main.fps) == ("h264", 160, 120, 15.0)
    assert main.audio_codec == "pcm_mulaw" and sub.audio_codec is None
    assert main.bitrate == 2048 * 1000


async def test_a_stream_id_in_the_url_picks_the_default_profile(camera: HikvisionDevice) -> None:
    async with camsdk.open(f"{camera.url}/102", credentials=CREDS, config=FAST) as cam:
        assert cam.info.profiles[0].name == "sub"


async def test_the_rtsp_port_is_the_one_the_device_reports(camera: HikvisionDevice) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        assert cam.info.extra["rtsp_port"] == str(camera.rtsp.port)
        assert cam.info.extra["rtsp_port_source"] == "device"
        with anyio.fail_after(20):
            async with cam.stream(profile="sub") as stream:
                assert stream.info.width == 160
    assert ("DESCRIBE", "/Streaming/Channels/102") in camera.rtsp.requests


async def test_the_rtsp_port_option_overrides_the_device(camera: HikvisionDevice) -> None:
    url = camera.camera_url(1) + "?rtsp_port=10554"
    async with camsdk.open(url, credentials=CREDS, config=FAST) as cam:
        assert cam.info.extra["rtsp_port"] == "10554"
        assert cam.info.extra["rtsp_port_source"] == "option"


async def test_capabilities_are_what_the_device_has() -> None:
    async with HikvisionDevice(username=USER, password=PASSWORD, ptz=False, talk=None) as dev:
        async with camsdk.open(dev.camera_url(1), credentials=CREDS, config=FAST) as cam:
            assert Capability.PTZ not in cam.capabilities
            assert Capability.TWO_WAY_AUDIO not in cam.capabilities
            assert Capability.STREAM | Capability.EVENTS | Capability.SNAPSHOT in cam.capabilities
            with pytest.raises(camsdk.UnsupportedCapabilityError):
                cam.talk()


async def test_an_unknown_channel_lists_the_known_ones(camera: HikvisionDevice) -> None:
    cam = camsdk.open(camera.camera_url(7), credentials=CREDS, config=FAST)
    with pytest.raises(camsdk.ConfigurationError, match="channels: 1"):
        await cam.connect()


async def test_the_snapshot_is_the_devices_jpeg(camera: HikvisionDevice) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        snap = await cam.snapshot()
    assert snap.source == "device"
    assert snap.jpeg == camera.jpeg()
    assert (snap.width, snap.height) == (160, 120)


async def test_an_error_body_labelled_jpeg_is_retried(camera: HikvisionDevice) -> None:
    camera.snapshot_errors = 1
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        snap = await cam.snapshot()
    assert snap.source == "device"
    pictures = [r for r in camera.http.requests if r.path.endswith("/picture")]
    assert len(pictures) == 2


async def test_an_nvr_channel_falls_back_to_the_proxy_picture(nvr: HikvisionDevice) -> None:
    nvr.missing.add("/ISAPI/Streaming/channels/201/picture")
    async with camsdk.open(nvr.camera_url(2), credentials=CREDS, config=FAST) as cam:
        snap = await cam.snapshot()
    assert snap.source == "device"
    paths = [r.path for r in nvr.http.requests if r.path.endswith("/picture")]
    assert paths == ["/ISAPI/Streaming/channels/201/picture",
                     "/ISAPI/ContentMgmt/StreamingProxy/channels/201/picture"]


async def test_when_every_picture_fails_the_snapshot_comes_from_the_stream(
    camera: HikvisionDevice,
) -> None:
    camera.snapshot_errors = 10
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        with anyio.fail_after(20):
            snap = await cam.snapshot()
    assert snap.source == "stream"
    assert (snap.width, snap.height) == (160, 120)


async def test_two_way_audio_uploads_g711_on_the_raw_connection(camera: HikvisionDevice) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        assert Capability.TWO_WAY_AUDIO in cam.capabilities
        async with cam.talk() as speaker:
            assert speaker.format.codec == "pcm_mulaw"
            await speaker.send_encoded(b"\xff" * 160, 160)
            await speaker.send_encoded(b"\x7f" * 160, 160)
            await camera.wait_until(lambda d: len(d.talk_audio) >= 320)
        await camera.wait_until(lambda d: d.talk_closed == 1)
    assert bytes(camera.talk_audio) == b"\xff" * 160 + b"\x7f" * 160
    assert camera.talk_sessions == 1


async def test_two_way_audio_encodes_pcm_for_the_device(camera: HikvisionDevice) -> None:
    async with camsdk.open(camera.camera_url(1), credentials=CREDS, config=FAST) as cam:
        async with cam.talk() as speaker:
            await speaker.send(b"\x00\x00" * 800, sample_rate=8000)
            await camera.wait_until(lambda d: len(d.talk_audio) >= 800)
    assert len(camera.talk_audio) == 800  # one byte per G.711 sample


async def test_a_wrong_password_is_one_failed_login_however_often_it_is_tried() -> None:
    async with HikvisionDevice(username=USER, password=PASSWORD, lockout_after=3) as device:
        wrong = camsdk.Credentials(USER, "not-" + PASSWORD)
        for _ in range(5):
            with pytest.raises(camsdk.AuthenticationError):
                await camsdk.open(device.camera_url(1), credentials=wrong, config=FAST).connect()
        assert device.failed_logins == 1 and not device.locked


async def test_a_device_lockout_is_reported_and_respected_for_the_right_password_too() -> None:
    async with HikvisionDevice(username=USER, password=PASSWORD, lockout_after=2,
                               lockout_seconds=900) as device:
        wrong = camsdk.Credentials(USER, "not-" + PASSWORD)
        url = device.camera_url(1) + "?auth_cooldown=0"  # an app that insists
        errors = []
        for _ in range(2):
            with pytest.raises(camsdk.AuthenticationError) as info:
                await camsdk.open(url, credentials=wrong, config=FAST).connect()
            errors.append(str(info.value))
        assert device.locked
        assert "locked this account for 900 s" in errors[-1]
        asked = len(device.http.requests)
        with pytest.raises(camsdk.AuthenticationError, match="not asking the device again"):
            await camsdk.open(url, credentials=CREDS, config=FAST).connect()
        assert len(device.http.requests) == asked
        for error in errors:
            assert PASSWORD not in error
