"""Recorded (redacted) answers of several models and firmware, replayed with respx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

import camsdk
from camsdk import Capability

from ._helpers import CREDS, FAST, fixture_bytes

pytestmark = pytest.mark.anyio

BASE = "http://cam.example.invalid"
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def isapi() -> Iterator[respx.Router]:
    """A respx router for the device that refuses any request it was not told about."""
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def serve(router: respx.Router, routes: dict[str, str | int]) -> None:
    """Answer each path with a fixture file, or with an HTTP status (``403`` = notSupport)."""
    for path, answer in routes.items():
        if isinstance(answer, int):
            body = fixture_bytes("ipc_v5_old/not_support_403.xml", URL=path) if answer == 403 \
                else b"not found"
            router.get(path).mock(return_value=httpx.Response(answer, content=body, headers=XML))
        else:
            router.get(path).mock(
                return_value=httpx.Response(200, content=fixture_bytes(answer), headers=XML))


def _camera(path: str = "/1") -> camsdk.Camera:
    return camsdk.open(f"hikvision://cam.example.invalid{path}", credentials=CREDS, config=FAST)


async def test_old_camera_firmware_without_port_config_or_ptz(isapi: respx.Router) -> None:
    serve(isapi, {
        "/ISAPI/System/deviceInfo": "ipc_v5_old/deviceInfo.xml",
        "/ISAPI/Streaming/channels": "ipc_v5_old/streaming_channels.xml",
        "/ISAPI/System/Video/inputs/channels": "ipc_v5_old/video_inputs.xml",
        "/ISAPI/Security/adminAccesses": 404,
        "/ISAPI/PTZCtrl/channels/1/capabilities": 403,
        "/ISAPI/System/TwoWayAudio/channels": 404,
    })
    async with _camera() as cam:
        info = cam.info
        main, sub = info.profiles
        assert Capability.PTZ not in cam.capabilities
        assert Capability.TWO_WAY_AUDIO not in cam.capabilities
    assert (info.model, info.firmware) == ("DS-2CD2042WD-I", "V5.4.5")
    assert (main.codec, main.width, main.height, main.fps) == ("h264", 2688, 1520, 20.0)
    assert (sub.codec, sub.fps) == ("mjpeg", 12.5)
    assert (info.extra["rtsp_port"], info.extra["rtsp_port_source"]) == ("554", "default")


async def test_new_camera_firmware_with_three_streams_hevc_and_talk(isapi: respx.Router) -> None:
    serve(isapi, {
        "/ISAPI/System/deviceInfo": "ipc_v5_new/deviceInfo.xml",
        "/ISAPI/Streaming/channels": "ipc_v5_new/streaming_channels.xml",
        "/ISAPI/System/Video/inputs/channels": "ipc_v5_new/video_inputs.xml",
        "/ISAPI/Security/adminAccesses": "ipc_v5_new/admin_accesses.xml",
        "/ISAPI/PTZCtrl/channels/1/capabilities": 403,
        "/ISAPI/System/TwoWayAudio/channels": "ipc_v5_new/two_way_audio.xml",
    })
    async with _camera() as cam:
        info = cam.info
        source = await cam._driver.stream_source("third")  # type: ignore[attr-defined]
        assert Capability.TWO_WAY_AUDIO in cam.capabilities
    assert [p.name for p in info.profiles] == ["main", "sub", "third"]
    assert (info.profiles[0].codec, info.profiles[0].width) == ("hevc", 3840)
    assert info.profiles[0].audio_codec == "pcm_mulaw"
    assert info.name == "Driveway"
    assert source.url == "rtsp://cam.example.invalid:10554/Streaming/Channels/103"
    assert source.credentials == CREDS


def _nvr_routes(router: respx.Router) -> None:
    serve(router, {
        "/ISAPI/System/deviceInfo": "nvr_k/deviceInfo.xml",
        "/ISAPI/Streaming/channels": "nvr_k/streaming_channels.xml",
        "/ISAPI/System/Video/inputs/channels": 404,
        "/ISAPI/Security/adminAccesses": "nvr_k/admin_accesses.xml",
        "/ISAPI/ContentMgmt/InputProxy/channels": "nvr_k/proxy_channels.xml",
        "/ISAPI/ContentMgmt/InputProxy/channels/status": "nvr_k/proxy_status.xml",
        "/ISAPI/ContentMgmt/StreamingProxy/channels": "nvr_k/streaming_proxy.xml",
    })


async def test_nvr_channels_with_their_names_and_why_some_are_unusable(
    isapi: respx.Router,
) -> None:
    _nvr_routes(isapi)
    async with camsdk.hub(BASE.replace("http", "hikvision"), credentials=CREDS,
                          config=FAST) as hub:
        listed = await hub.listing()
    assert [(c.name, c.online, c.reason) for c in listed] == [
        ("Front door", True, ""),
        ("Garden", False, "passwordError"),
        ("Garage", False, "offline"),
    ]
    assert listed[0].extra["streams"] == {"main": 101, "sub": 102}


async def test_an_nvr_channel_streams_from_the_proxy_config(isapi: respx.Router) -> None:
    _nvr_routes(isapi)
    serve(isapi, {"/ISAPI/PTZCtrl/channels/1/capabilities": 404,
                  "/ISAPI/ContentMgmt/PTZCtrlProxy/channels/1/capabilities": 404,
                  "/ISAPI/System/TwoWayAudio/channels": 403})
    async with _camera("/101") as cam:
        info = cam.info
    assert (info.profiles[0].width, info.profiles[0].fps) == (2560, 25.0)
    assert info.extra["proxy"] == "1"
    assert info.extra["device_type"] == "NVR"


async def test_a_hybrid_dvr_lists_analog_inputs_and_ip_channels(isapi: respx.Router) -> None:
    serve(isapi, {
        "/ISAPI/System/deviceInfo": "dvr_hybrid/deviceInfo.xml",
        "/ISAPI/Streaming/channels": "dvr_hybrid/streaming_channels.xml",
        "/ISAPI/System/Video/inputs/channels": "dvr_hybrid/video_inputs.xml",
        "/ISAPI/Security/adminAccesses": 404,
        "/ISAPI/ContentMgmt/InputProxy/channels": "dvr_hybrid/proxy_channels.xml",
        "/ISAPI/ContentMgmt/InputProxy/channels/status": "dvr_hybrid/proxy_status.xml",
        "/ISAPI/ContentMgmt/StreamingProxy/channels": "dvr_hybrid/streaming_proxy.xml",
    })
    async with camsdk.hub("hikvision://cam.example.invalid", credentials=CREDS,
                          config=FAST) as hub:
        listed = await hub.listing()
    assert [(c.extra["channel"], c.name, c.online, c.reason) for c in listed] == [
        (1, "Shop floor", True, ""),
        (2, "Back yard", False, "no video signal"),
        (9, "IPCamera 01", True, ""),
    ]
    assert listed[2].extra["streams"] == {"main": 901, "sub": 902}


async def test_oem_firmware_in_another_namespace_is_read_alike(isapi: respx.Router) -> None:
    serve(isapi, {
        "/ISAPI/System/deviceInfo": "oem/deviceInfo.xml",
        "/ISAPI/Streaming/channels": "ipc_v5_old/streaming_channels.xml",
        "/ISAPI/System/Video/inputs/channels": 404,
        "/ISAPI/Security/adminAccesses": 404,
        "/ISAPI/PTZCtrl/channels/1/capabilities": 404,
        "/ISAPI/System/TwoWayAudio/channels": 404,
    })
    async with _camera() as cam:
        assert (cam.info.model, cam.info.serial) == ("IPC-T240H", "IPC-T240H20210101AACH000000006")
        assert cam.info.extra["mac"] == "24:28:fd:00:00:06"


@pytest.mark.parametrize("fixture", ["hostile/billion_laughs.xml", "hostile/external_entity.xml"])
async def test_hostile_xml_is_a_protocol_error_without_expansion_or_fetch(
    isapi: respx.Router, fixture: str
) -> None:
    serve(isapi, {"/ISAPI/System/deviceInfo": fixture})
    with pytest.raises(camsdk.CameraProtocolError):
        await _camera().connect()


async def test_an_oversized_answer_is_refused_by_its_declared_length(
    isapi: respx.Router,
) -> None:
    isapi.get("/ISAPI/System/deviceInfo").mock(return_value=httpx.Response(
        200, headers={**XML, "Content-Length": str(50 * 1024 * 1024)}, content=b"<a/>"))
    with pytest.raises(camsdk.CameraProtocolError, match="cap"):
        await _camera().connect()


async def test_a_locked_account_is_reported_and_not_asked_again(isapi: respx.Router) -> None:
    route = isapi.get("/ISAPI/System/deviceInfo").mock(return_value=httpx.Response(
        401, content=fixture_bytes("hostile/user_check_locked.xml"), headers=XML))
    with pytest.raises(camsdk.AuthenticationError, match="locked this account for 1784 s"):
        await _camera().connect()
    asked = route.call_count
    with pytest.raises(camsdk.AuthenticationError, match="not asking the device again"):
        await _camera("/2").connect()
    with pytest.raises(camsdk.AuthenticationError):
        await camsdk.open("hikvision://cam.example.invalid/1",
                          credentials=camsdk.Credentials("admin", "another-guess"),
                          config=FAST).connect()
    assert route.call_count == asked  # the lock holds for the user, whatever the password


async def test_wrong_credentials_are_not_sent_again_during_the_cooldown(
    isapi: respx.Router,
) -> None:
    challenge = {"WWW-Authenticate": 'Basic realm="x"'}
    route = isapi.get("/ISAPI/System/deviceInfo").mock(
        return_value=httpx.Response(401, content=b"", headers=challenge))
    for _ in range(5):
        with pytest.raises(camsdk.AuthenticationError):
            await _camera().connect()
    assert route.call_count == 2  # the challenge and one wrong answer: one failed login
