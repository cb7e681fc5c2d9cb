"""Hostile and broken answers: typed errors in bounded time and memory, never a hang.

respx replays bend the JSON (nesting bombs, oversized bodies, HTML pages,
wrong types); the simulator bends the wire (endless headers, JSON split
into 3-byte chunks, a lying Content-Length) and the snapshot (error bodies
labelled as JPEG).
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
from camsdk import CameraProtocolError, CameraTimeoutError, CamError
from camsdk.driver import CameraConfig, CameraURL
from camsdk.drivers.reolink import ReolinkDriver
from camsdk.testing import ReolinkDevice
from camsdk.testing._reolink_device._device import _jpeg
from tests._broken_answers import broken_json_answers

from ._replay import URL, ReolinkReplay, error, json_reply
from .conftest import CREDS, options

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def connected(url: str = URL, **opts: Any) -> AsyncIterator[ReolinkDriver]:
    driver = ReolinkDriver(url=CameraURL.parse(url), credentials=CREDS,
                           config=CameraConfig(request_timeout=2.0), options=opts)
    try:
        await driver.connect()
        yield driver
    finally:
        await driver.close()


@pytest.mark.parametrize(
    "reply",
    [
        *broken_json_answers("text/html"),
        pytest.param(json_reply("just a string"), id="wrong-shape"),
    ],
)
async def test_a_broken_answer_to_login_is_a_typed_protocol_error(
    router: respx.Router, reply: Any
) -> None:
    replay = ReolinkReplay(router, "rlc810a_v3")
    replay.login_replies.append(reply)
    with anyio.fail_after(5), pytest.raises(CameraProtocolError):
        async with connected():
            pass


async def test_answers_of_the_wrong_types_degrade_to_defaults(router: respx.Router) -> None:
    replay = ReolinkReplay(router, "rlc810a_v3")
    replay.answer_next("GetDevInfo", {"cmd": "GetDevInfo", "code": 0, "value": {"DevInfo": {
        "model": ["RLC"], "serial": {"x": 1}, "channelNum": 10**12, "name": "A\x00B\nC" * 100,
        "firmVer": 3.5}}})
    replay.answer_next("GetNetPort", {"cmd": "GetNetPort", "code": 0, "value": {"NetPort": {
        "rtspPort": 70000, "onvifPort": "abc"}}})
    async with connected() as driver:
        info = await driver.connect()
    assert info.model == "" and info.firmware == "3.5"
    assert info.name.startswith("ABCABC") and len(info.name) < 140  # printable, capped
    assert info.extra["rtsp_port"] == "554"  # 70000 is no port: the default stands


async def test_an_error_body_labelled_as_a_jpeg_is_retried(router: respx.Router) -> None:
    replay = ReolinkReplay(router, "rlc810a_v3")
    replay.jpeg = _jpeg()
    replay.snap_replies.append(json_reply([error("Snap", -25, "internal error")],
                                          content_type="image/jpeg"))
    async with connected() as driver:
        snap = await driver.snapshot("main")
    assert snap.source == "device" and snap.jpeg[:2] == b"\xff\xd8"
    assert replay.calls.count("Snap") == 2


async def test_an_nvr_channel_falls_back_to_the_sub_stream_still(router: respx.Router) -> None:
    replay = ReolinkReplay(router, "rln16_nvr")
    replay.jpeg = _jpeg()
    asked: list[str] = []

    def busy(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["snapType"])
        return json_reply([error("Snap", -17, "rcv failed")])

    replay.snap_replies.extend([busy, busy])
    async with connected(f"{URL}/0") as driver:
        snap = await driver.snapshot("main")
    assert asked == ["main", "main"] and snap.width > 0
    assert replay.calls.count("Snap") == 3


async def test_a_device_that_only_sends_error_bodies_falls_back_to_the_stream(
    camera: ReolinkDevice,
) -> None:
    camera.snapshot_errors = 10
    with anyio.fail_after(20):
        async with camsdk.open(camera.url, **options()) as cam:
            snap = await cam.snapshot()
    assert snap.source == "stream" and snap.jpeg[:2] == b"\xff\xd8"


async def test_endless_headers_end_in_a_timeout_within_the_deadline(
    camera: ReolinkDevice,
) -> None:
    camera.http.endless_headers(0.01)
    started = time.monotonic()
    cam = camsdk.open(camera.url, **options(config={"connect_timeout": 1.5,
                                                     "request_timeout": 1.0}))
    with anyio.fail_after(10), pytest.raises((CameraTimeoutError, CameraProtocolError)):
        await cam.connect()
    assert time.monotonic() - started < 5.0


async def test_json_split_into_tiny_chunks_is_read_whole(camera: ReolinkDevice) -> None:
    camera.http.split_chunks([3])
    with anyio.fail_after(20):
        async with camsdk.open(camera.url, **options()) as cam:
            assert cam.info.model == "RLC-823A"


async def test_a_lying_content_length_is_a_typed_error(camera: ReolinkDevice) -> None:
    camera.http.content_length(10)
    with anyio.fail_after(10), pytest.raises(CamError):
        await camsdk.open(camera.url, **options(config={"request_timeout": 1.0,
                                                         "connect_timeout": 2.0})).connect()
