"""Firmware-shaped answers (respx replays of several models): identity, streams, sessions.

Fixtures are redacted answers of an RLC-810A on v3 firmware, an RLC-410 on
v2 (no ``vType``, no ``GetRtspUrl``), an RLN16-410 NVR, a Home Hub with a
sleeping Argus and an E1 Zoom (PTZ).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import respx

import camsdk
from camsdk import AuthenticationError, Capability, DeviceError
from camsdk.driver import CameraURL
from camsdk.drivers.reolink import ReolinkDriver

from ._replay import HOST, URL, ReolinkReplay, error, json_reply
from .conftest import CREDS

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def connected(url: str = URL, **options: Any) -> AsyncIterator[ReolinkDriver]:
    """A connected driver (for what the driver hands the facade)."""
    driver = ReolinkDriver(url=CameraURL.parse(url), credentials=CREDS, options=options)
    try:
        await driver.connect()
        yield driver
    finally:
        await driver.close()


async def test_a_v3_camera_reports_identity_and_streams_from_its_own_config(
    router: respx.Router,
) -> None:
    ReolinkReplay(router, "rlc810a_v3")
    async with connected() as driver:
        info = await driver.connect()
    assert (info.vendor, info.model, info.name) == ("Reolink", "RLC-810A", "Driveway")
    assert info.firmware == "v3.1.0.2347_23061923" and info.serial == "00000000000000"
    assert info.hardware_id == "EC:71:DB:AA:BB:CC" and info.id == "reolink:00000000000000"
    main, sub = info.profiles
    assert (main.name, main.codec, main.width, main.height, main.fps) == (
        "main", "h265", 3840, 2160, 25.0)
    assert main.bitrate == 6144000 and main.audio_codec == "aac"
    assert (sub.name, sub.codec, sub.width, sub.height) == ("sub", "h264", 640, 360)


async def test_the_stream_url_is_the_devices_own_rewritten_to_the_callers_host(
    router: respx.Router,
) -> None:
    ReolinkReplay(router, "rlc810a_v3")
    async with connected() as driver:
        source = await driver.stream_source("main")
    # GetRtspUrl names the camera's LAN address; the caller reached it as HOST.
    assert source.url == f"rtsp://{HOST}:8554/Preview_01_main"
    assert source.credentials == CREDS and "reolink" not in source.url.split("@")[0]


async def test_old_firmware_gets_sizes_from_size_text_and_a_built_h264_path(
    router: respx.Router,
) -> None:
    replay = ReolinkReplay(router, "rlc410_v2")
    async with connected() as driver:
        info = await driver.connect()
        source = await driver.stream_source("sub")
    main = info.profiles[0]
    assert (main.codec, main.width, main.height) == ("h264", 2560, 1440)
    assert source.url == f"rtsp://{HOST}:554/h264Preview_01_sub"
    assert Capability.AUDIO not in driver.capabilities
    assert "GetRtspUrl" in replay.calls  # asked once, "not support" remembered as absent


async def test_an_h265_nvr_channel_streams_from_the_preview_path_on_the_reported_port(
    router: respx.Router,
) -> None:
    ReolinkReplay(router, "rln16_nvr")
    async with connected(f"{URL}/1") as driver:
        info = await driver.connect()
        main = await driver.stream_source("main")
        ext = await driver.stream_source("ext")
    assert [p.name for p in info.profiles] == ["main", "sub", "ext"]
    assert (info.name, info.model) == ("Yard", "RLC-811A")
    assert info.id == "reolink:00000000000002/1"
    assert main.url == f"rtsp://{HOST}:554/Preview_02_main"
    assert ext.url == f"rtsp://{HOST}:554/h264Preview_02_ext"


async def test_the_rtsp_port_option_overrides_the_reported_one(router: respx.Router) -> None:
    ReolinkReplay(router, "rln16_nvr")
    async with connected(f"{URL}/0", rtsp_port=10554) as driver:
        source = await driver.stream_source("main")
    assert source.url == f"rtsp://{HOST}:10554/h264Preview_01_main"


async def test_the_nvr_hub_lists_names_offline_and_refused_channels(router: respx.Router) -> None:
    replay = ReolinkReplay(router, "rln16_nvr")
    async with camsdk.hub(URL, credentials=CREDS) as hub:
        listed = await hub.listing()
        cams = await hub.cameras()
    assert len(listed) == 16
    front, yard, side, duo = listed[:4]
    assert (front.name, front.online, front.url) == ("Front door", True, f"{URL}/0")
    assert front.id == "reolink:00000000000002/0" and front.extra["model"] == "RLC-520A"
    assert yard.online and not side.online and "offline" in side.reason
    assert not duo.online and "rspCode -17" in duo.reason
    assert listed[4].name == "Barn NVR 5"  # "1"/"0" are firmware placeholders, not names
    assert len(cams) == 2
    assert replay.calls.count("Login") == 1


async def test_cameras_from_the_hub_share_its_login_and_what_it_read(
    router: respx.Router,
) -> None:
    replay = ReolinkReplay(router, "rln16_nvr")
    async with camsdk.hub(URL, credentials=CREDS) as hub:
        cams = await hub.cameras()
        before = len(replay.calls)
        for cam in cams:
            await cam.connect()
        assert len(replay.calls) == before  # no login, no request
        assert [c.info.name for c in cams] == ["Front door", "Yard"]
    assert replay.calls.count("Login") == 1 and replay.calls[-1] == "Logout"


async def test_a_sleeping_battery_camera_is_not_woken_to_connect(router: respx.Router) -> None:
    replay = ReolinkReplay(router, "homehub_argus")
    async with connected(f"{URL}/0") as driver:
        info = await driver.connect()
    assert "GetEnc" not in replay.calls
    assert driver.battery_powered and Capability.BATTERY in driver.capabilities
    assert (info.name, info.model, info.extra["battery"]) == ("Back garden", "Argus 3 Pro", "1")
    assert [p.codec for p in info.profiles] == [None, None]  # unknown until it wakes


async def test_a_stale_token_is_renewed_once_and_the_command_sent_again(
    router: respx.Router,
) -> None:
    replay = ReolinkReplay(router, "e1zoom")
    async with connected() as driver:
        replay.answer_next("PtzCtrl", error("PtzCtrl", -6, "please login first"))
        await driver.ptz().continuous_move(0.5, 0.5, 0.0)
    assert replay.calls.count("Login") == 2
    # Sent again with the new token (then the session logs out on close).
    assert replay.calls[-4:] == ["PtzCtrl", "Login", "PtzCtrl", "Logout"]
    assert replay.tokens[-2] != replay.tokens[-4]


async def test_a_full_device_is_a_device_error_not_an_authentication_error(
    router: respx.Router,
) -> None:
    replay = ReolinkReplay(router, "rlc810a_v3")
    replay.login_replies.append(json_reply([error("Login", -5, "max session")]))
    with pytest.raises(DeviceError, match="max session") as info:
        async with connected():
            pass
    assert not isinstance(info.value, AuthenticationError) and info.value.code == "-5"


@pytest.mark.parametrize(("code", "detail"), [(-7, "login failed"), (-27, "invalid user"),
                                              (-7, "Login has been locked")])
async def test_a_refused_login_is_an_authentication_error_sent_once(
    router: respx.Router, code: int, detail: str,
) -> None:
    replay = ReolinkReplay(router, "rlc810a_v3")
    replay.login_replies.append(json_reply([error("Login", code, detail)]))
    with pytest.raises(AuthenticationError) as info:
        async with connected():
            pass
    assert replay.calls == ["Login"]
    assert CREDS.password.get_secret_value() not in str(info.value)


async def test_the_token_is_renewed_before_its_lease_ends_and_the_old_one_logged_out(
    router: respx.Router, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from camsdk.drivers.reolink import _api

    now = [1000.0]
    monkeypatch.setattr(_api.time, "monotonic", lambda: now[0])
    replay = ReolinkReplay(router, "e1zoom", lease=100)
    async with connected() as driver:
        ptz = driver.ptz()
        await ptz.stop()
        now[0] += 85.0  # within the last 20 % of the lease
        await ptz.stop()
    assert replay.calls.count("Login") == 2
    logout_at = replay.calls.index("Logout")
    assert replay.calls[logout_at + 1] == "Login"  # the old slot freed before a new one


async def test_every_request_after_login_carries_the_token_as_a_query_parameter(
    router: respx.Router,
) -> None:
    replay = ReolinkReplay(router, "rlc810a_v3")
    async with connected():
        pass
    assert replay.tokens[0] is None  # Login itself
    assert all(t is not None and t.startswith("tok-") for t in replay.tokens[1:])


async def test_ptz_moves_by_direction_and_lists_only_enabled_presets(
    router: respx.Router,
) -> None:
    replay = ReolinkReplay(router, "e1zoom")
    sent: list[dict[str, Any]] = []
    original = replay._item

    def spy(name: str, command: dict[str, Any]) -> dict[str, Any]:
        if name == "PtzCtrl":
            sent.append(command["param"])
        return original(name, command)

    replay._item = spy  # type: ignore[method-assign]
    async with connected() as driver:
        assert {Capability.PTZ, Capability.PTZ_PRESETS} <= {
            c for c in Capability if c in driver.capabilities}
        ptz = driver.ptz()
        await ptz.continuous_move(-1.0, 0.0, 0.0)
        await ptz.continuous_move(0.0, 0.0, 0.25)
        presets = await ptz.presets()
        await ptz.goto_preset("3")
        await ptz.stop()
    assert [(p.token, p.name) for p in presets] == [("1", "door"), ("3", "sofa")]
    assert sent == [
        {"channel": 0, "op": "Left", "speed": 64},
        {"channel": 0, "op": "ZoomInc", "speed": 16},
        {"channel": 0, "op": "ToPos", "id": 3, "speed": 32},
        {"channel": 0, "op": "Stop"},
    ]


async def test_devices_without_ptz_refuse_it(router: respx.Router) -> None:
    ReolinkReplay(router, "rlc810a_v3")
    async with connected() as driver:
        with pytest.raises(camsdk.UnsupportedCapabilityError):
            driver.ptz()
