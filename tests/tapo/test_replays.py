"""respx replays shaped like Tapo firmware: identity, abilities, and hostile answers.

Four cameras (C200 v1 on 1.3, C210 v2 on 1.4, C325WB on 1.1, C100 v4 on 1.3
without a component list), both login variants, both answer formats; then
answers that are broken or hostile: typed errors in bounded time and
memory, never a hang, a crash or an unbounded buffer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import respx

import camsdk
from camsdk import CameraProtocolError, CameraTimeoutError, CamError, Capability, DeviceError
from camsdk.driver import CameraConfig, CameraURL
from camsdk.drivers.tapo import TapoDriver
from camsdk.testing import TapoDevice
from tests._broken_answers import broken_json_answers

from ._replay import URL, TapoReplay, json_reply
from .conftest import CREDS, PASSWORD, STREAM_CREDS, options

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def connected(url: str = URL, **opts: Any) -> AsyncIterator[TapoDriver]:
    driver = TapoDriver(url=CameraURL.parse(url), credentials=CREDS,
                        config=CameraConfig(request_timeout=2.0),
                        options={"stream_credentials": STREAM_CREDS, **opts})
    try:
        await driver.connect()
        yield driver
    finally:
        await driver.close()


@pytest.mark.parametrize(
    ("name", "model", "caps", "login", "size", "fps"),
    [
        ("c200_v1_fw1.3", "C200", Capability.PTZ | Capability.PRIVACY_MODE, "legacy",
         (1920, 1080), 15.0),
        ("c210_v2_fw1.4", "C210", Capability.PTZ_PRESETS | Capability.PRIVACY_MODE, "secure",
         (2304, 1296), 15.0),
        ("c325wb_fw1.1", "C325WB", Capability.PRIVACY_MODE | Capability.AUDIO, "secure",
         (2688, 1520), 25.0),
        ("c100_v4_fw1.3", "C100", Capability.PRIVACY_MODE | Capability.STREAM, "legacy",
         (1920, 1080), 15.0),
    ],
)
async def test_each_firmware_is_read_into_identity_profiles_and_honest_capabilities(
    router: respx.Router, name: str, model: str, caps: Capability, login: str,
    size: tuple[int, int], fps: float,
) -> None:
    replay = TapoReplay(router, name, password=PASSWORD)
    async with connected() as driver:
        info = await driver.connect()
        capabilities = driver.capabilities
    assert info.model == model and info.vendor == "TP-Link"
    assert info.id.startswith("tapo:000000") and info.hardware_id.count(":") == 5
    assert info.extra["login"] == login
    assert caps in capabilities
    assert (Capability.PTZ in capabilities) is (replay.data["motor"] is not None)
    main = info.profiles[0]
    assert (main.name, main.token, (main.width, main.height), main.fps) == (
        "main", "stream1", size, fps)


async def test_presets_and_their_positions_are_read_from_parallel_arrays(
    router: respx.Router,
) -> None:
    TapoReplay(router, "c210_v2_fw1.4", password=PASSWORD)
    async with connected() as driver:
        presets = await driver.ptz().presets()
    assert [(p.token, p.name) for p in presets] == [("1", "Door"), ("2", "Window")]


async def test_the_lens_mask_state_is_read_from_the_answer(router: respx.Router) -> None:
    TapoReplay(router, "c210_v2_fw1.4", password=PASSWORD)
    async with connected() as driver:
        assert await driver.privacy_mode() is True


@pytest.mark.parametrize(
    "reply",
    [
        *broken_json_answers("text/json"),
        pytest.param(json_reply(["not", "an", "object"]), id="wrong-shape"),
        pytest.param(json_reply({"error_code": 0, "result": {"stok": "a/b"}}), id="bad-token"),
        pytest.param(json_reply({"error_code": 0, "result": {}}), id="no-token"),
        pytest.param(httpx.Response(503, content=b"busy"), id="http-error"),
    ],
)
async def test_a_broken_answer_to_login_is_a_typed_error(router: respx.Router,
                                                         reply: Any) -> None:
    replay = TapoReplay(router, "c200_v1_fw1.3", password=PASSWORD)
    replay.login_replies.extend([json_reply({"error_code": -40210}), reply])
    with anyio.fail_after(5), pytest.raises((CameraProtocolError, DeviceError)):
        async with connected():
            pass


async def test_answers_of_the_wrong_types_degrade_to_defaults(router: respx.Router) -> None:
    replay = TapoReplay(router, "c210_v2_fw1.4", password=PASSWORD)
    replay.overrides["getDeviceInfo"] = {"device_info": {"basic_info": {
        "device_model": ["C210"], "dev_id": {"x": 1}, "mac": "not-a-mac",
        "device_alias": "A\x00B\nC" * 100, "sw_version": 1.5, "rtsp_port": 70000}}}
    replay.overrides["getVideoQualities"] = {"video": {"main": {
        "resolution": "99999*3", "frame_rate": "1e9", "encode_type": {"a": 1}}}}
    replay.overrides["getPresetConfig"] = {"preset": {"preset": {
        "id": ["1", {"x": 1}, "9" * 40], "name": "not-a-list"}}}
    async with connected() as driver:
        info = await driver.connect()
        presets = await driver.ptz().presets()
    assert info.model == "" and info.firmware == "1.5" and info.hardware_id == ""
    assert info.name.startswith("ABCABC") and len(info.name) <= 128
    assert info.extra["rtsp_port"] == "554"
    main = info.profiles[0]
    assert (main.width, main.fps, main.codec) == (None, None, None)
    assert [p.token for p in presets] == ["1"]


async def test_a_missing_identity_says_this_may_not_be_a_tapo_camera(
    router: respx.Router,
) -> None:
    replay = TapoReplay(router, "c200_v1_fw1.3", password=PASSWORD)
    replay.overrides["getDeviceInfo"] = {"_error": -40106}
    with pytest.raises(CameraProtocolError, match="Tapo camera"):
        async with connected():
            pass


async def test_an_undecryptable_secure_answer_logs_in_again_once_then_fails_typed(
    router: respx.Router,
) -> None:
    replay = TapoReplay(router, "c210_v2_fw1.4", password=PASSWORD)
    garbage = json_reply({"error_code": 0, "result": {"response": "bm90IGFlcw=="}})
    replay.api_replies.extend([garbage, garbage])
    with anyio.fail_after(5), pytest.raises(DeviceError):
        async with connected():
            pass
    assert replay.calls.count("login") == 4  # two secure logins of two requests each


async def test_a_camera_that_forgets_sessions_in_a_loop_is_not_logged_in_forever(
    router: respx.Router,
) -> None:
    replay = TapoReplay(router, "c200_v1_fw1.3", password=PASSWORD)
    replay.api_replies.extend([json_reply({"error_code": -40401})] * 10)
    with anyio.fail_after(5), pytest.raises(DeviceError):
        async with connected():
            pass
    assert replay.calls.count("api") == 2


# -- the wire, bent by the simulator ---------------------------------------------------------


async def test_endless_headers_end_in_a_timeout_within_the_deadline(camera: TapoDevice) -> None:
    camera.http.endless_headers(0.01)
    started = time.monotonic()
    cam = camsdk.open(camera.url, **options(config={"connect_timeout": 1.5,
                                                     "request_timeout": 1.0}))
    with anyio.fail_after(10), pytest.raises((CameraTimeoutError, CameraProtocolError)):
        await cam.connect()
    assert time.monotonic() - started < 5.0


async def test_a_device_that_never_answers_times_out_typed(camera: TapoDevice) -> None:
    camera.http.stall_after(0)
    cam = camsdk.open(camera.url, **options(config={"connect_timeout": 1.5,
                                                     "request_timeout": 1.0}))
    with anyio.fail_after(10), pytest.raises(CameraTimeoutError):
        await cam.connect()


async def test_json_split_into_tiny_chunks_is_read_whole(camera: TapoDevice) -> None:
    camera.http.split_chunks([3])
    with anyio.fail_after(20):
        async with camsdk.open(camera.url, **options()) as cam:
            assert cam.info.model == "C210"


async def test_a_lying_content_length_is_a_typed_error(camera: TapoDevice) -> None:
    camera.http.content_length(10)
    with anyio.fail_after(10), pytest.raises(CamError):
        await camsdk.open(camera.url, **options(config={"request_timeout": 1.0,
                                                         "connect_timeout": 2.0})).connect()
