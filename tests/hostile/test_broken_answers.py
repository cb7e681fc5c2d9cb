"""Devices whose answers break HTTP: endless headers, silence, hang-ups, wrong lengths.

Each is a typed camsdk error within the phase's deadline (``request_timeout``
for a GET, ``open_timeout`` for a stream open), never a hang and never a
broken picture handed to the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import camsdk
from camsdk import (
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    Discontinuity,
    MediaPacket,
)
from camsdk.testing._http_device import HttpDevice, Request, Response, StreamingResponse

from .conftest import (
    FAST,
    MIB,
    SLACK,
    make_jpeg,
    memory_peak,
    mjpeg,
    part,
    pictures,
    serve_in_turn,
    within,
)

pytestmark = pytest.mark.anyio

REQUEST = FAST["request_timeout"]
JPEG = make_jpeg()


def still(device: HttpDevice) -> str:
    device.route("GET", "/snapshot.jpg", Response(200, JPEG, content_type="image/jpeg"))
    return f"{device.url}/snapshot.jpg"


# -- endless headers and silence -----------------------------------------------------------


async def test_endless_response_headers_fail_the_connect_at_the_header_limit(
    device: HttpDevice,
) -> None:
    url = still(device)
    device.endless_headers()
    with memory_peak() as peak:
        async with within(REQUEST + SLACK):
            # httpx stops at its header limit; camsdk reports the broken exchange.
            with pytest.raises(CameraUnreachableError, match="Receive buffer too long"):
                await camsdk.open(url, config=FAST).connect()
    assert peak.bytes < 4 * MIB


async def test_a_device_that_never_answers_fails_the_connect_within_request_timeout(
    device: HttpDevice,
) -> None:
    url = still(device)
    device.stall_after(0)
    async with within(REQUEST + SLACK):
        with pytest.raises(CameraTimeoutError):
            await camsdk.open(url, config=FAST).connect()


async def test_a_device_that_stops_answering_fails_the_snapshot_within_request_timeout(
    device: HttpDevice,
) -> None:
    url = still(device)
    async with camsdk.open(url, config=FAST) as cam:
        device.stall_after(0)
        async with within(REQUEST + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.snapshot()


async def test_an_mjpeg_device_that_never_answers_the_stream_fails_its_open_in_time(
    device: HttpDevice,
) -> None:
    route = serve_in_turn(device, "/mjpeg", lambda: mjpeg(pictures()))
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        route.stall_after(0)
        async with within(FAST["open_timeout"] + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.stream().open()


async def test_a_half_open_device_mid_picture_fails_the_snapshot_within_request_timeout(
    device: HttpDevice,
) -> None:
    url = still(device)
    async with camsdk.open(url, config=FAST) as cam:
        device.stall_after(300)  # the head and part of the picture, then silence
        async with within(REQUEST + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.snapshot()


# -- hang-ups ------------------------------------------------------------------------------


async def test_a_device_that_closes_mid_picture_fails_the_snapshot_at_once(
    device: HttpDevice,
) -> None:
    url = still(device)
    async with camsdk.open(url, config=FAST) as cam:
        device.drop_after(300)
        async with within(SLACK):
            with pytest.raises(CameraUnreachableError, match="peer closed connection"):
                await cam.snapshot()


async def test_a_close_delimited_still_cut_mid_picture_is_refused_not_returned(
    device: HttpDevice,
) -> None:
    """No Content-Length: the body ends when the device hangs up, here before the end."""
    cut = [JPEG, JPEG[: len(JPEG) - 40]]

    async def answer(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield cut[0] if len(device.requests) == 1 else cut[1]

        return StreamingResponse(200, body(), content_type="image/jpeg", chunked=False)

    device.route("GET", "/snapshot.jpg", answer)
    async with camsdk.open(f"{device.url}/snapshot.jpg", config=FAST) as cam:
        async with within(SLACK):
            with pytest.raises(CameraProtocolError, match="cut short"):
                await cam.snapshot()


async def test_an_mjpeg_device_that_closes_mid_picture_reconnects_with_whole_pictures(
    device: HttpDevice,
) -> None:
    jpegs = [make_jpeg(64, 48, shade) for shade in (10, 90)]

    async def cut_after_two() -> AsyncIterator[bytes]:
        yield part(jpegs[0]) + part(jpegs[1])
        yield part(jpegs[0])[:200]  # the device hangs up inside a picture

    serve_in_turn(device, "/mjpeg", lambda: mjpeg(cut_after_two()))
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        async with cam.stream() as stream:
            seen: list[MediaPacket | Discontinuity] = []
            async with within(2 * FAST["open_timeout"]):
                async for item in stream.packets():
                    seen.append(item)
                    if isinstance(item, Discontinuity):
                        break
    pictures_seen = [p for p in seen if isinstance(p, MediaPacket)]
    assert pictures_seen and all(p.data in jpegs for p in pictures_seen)
    assert isinstance(seen[-1], Discontinuity)


# -- wrong Content-Length ------------------------------------------------------------------


async def test_a_still_whose_content_length_is_short_is_refused_not_returned_cut(
    device: HttpDevice,
) -> None:
    url = still(device)
    async with camsdk.open(url, config=FAST) as cam:
        device.content_length(len(JPEG) - 40)  # the reader stops 40 bytes early
        async with within(SLACK):
            with pytest.raises(CameraProtocolError, match="cut short"):
                await cam.snapshot()


async def test_a_still_whose_content_length_is_long_fails_within_request_timeout(
    device: HttpDevice,
) -> None:
    url = still(device)
    async with camsdk.open(url, config=FAST) as cam:
        device.content_length(len(JPEG) + 40)  # the reader waits for 40 bytes never sent
        async with within(REQUEST + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.snapshot()


async def test_a_still_whose_content_length_is_long_and_then_closes_fails_at_once(
    device: HttpDevice,
) -> None:
    closing = Response(200, JPEG, content_type="image/jpeg", headers={"Connection": "close"})
    device.route("GET", "/snapshot.jpg", closing)
    url = f"{device.url}/snapshot.jpg"
    async with camsdk.open(url, config=FAST) as cam:
        device.content_length(len(JPEG) + 40)  # then the device hangs up
        async with within(SLACK):
            with pytest.raises(CameraUnreachableError, match="peer closed connection"):
                await cam.snapshot()
