"""Slowloris devices: bytes trickled just fast enough to beat every per-read idle timeout.

A device that sends one byte every 0.2 s never leaves a read idle for
``request_timeout`` (1 s here), so only a deadline over the whole answer
catches it: a still (or the device's own MJPEG picture) must arrive whole
within ``request_timeout``, a stream's first picture within ``open_timeout``
and every later picture within ``stall_timeout``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import camsdk
from camsdk import CameraTimeoutError, EventKind, MediaPacket, StreamState
from camsdk.testing._http_device import HttpDevice, Response

from .conftest import FAST, SLACK, make_jpeg, mjpeg, pictures, serve_in_turn, within

pytestmark = pytest.mark.anyio

#: One byte every 0.2 s.
SLOWLORIS = 5.0
REQUEST = FAST["request_timeout"]


def still_route(device: HttpDevice) -> None:
    device.route("GET", "/snapshot.jpg", Response(200, make_jpeg(), content_type="image/jpeg"))


async def test_a_trickled_still_fails_the_snapshot_within_request_timeout(
    device: HttpDevice,
) -> None:
    still_route(device)
    async with camsdk.open(f"{device.url}/snapshot.jpg", config=FAST) as cam:
        device.trickle(SLOWLORIS)
        async with within(REQUEST + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.snapshot()


async def test_a_trickled_still_fails_the_connect_within_request_timeout(
    device: HttpDevice,
) -> None:
    still_route(device)
    device.trickle(SLOWLORIS)
    async with within(REQUEST + SLACK):
        with pytest.raises(CameraTimeoutError):
            await camsdk.open(f"{device.url}/snapshot.jpg", config=FAST).connect()


async def test_response_headers_trickled_line_by_line_fail_within_request_timeout(
    device: HttpDevice,
) -> None:
    still_route(device)
    device.endless_headers(interval=0.2)
    async with within(REQUEST + SLACK):
        with pytest.raises(CameraTimeoutError):
            await camsdk.open(f"{device.url}/snapshot.jpg", config=FAST).connect()


async def test_a_still_that_keeps_its_pace_within_request_timeout_is_taken(
    device: HttpDevice,
) -> None:
    jpeg = make_jpeg()
    still_route(device)
    async with camsdk.open(f"{device.url}/snapshot.jpg", config=FAST) as cam:
        # Slow but whole within the deadline: 50 bytes every 25 ms, about 0.4 s in all.
        device.split_chunks([50]).trickle(2000)
        snapshot = await cam.snapshot()
    assert snapshot.jpeg == jpeg


async def test_an_mjpeg_picture_trickled_to_snapshot_fails_within_request_timeout(
    device: HttpDevice,
) -> None:
    serve_in_turn(device, "/mjpeg", lambda: mjpeg(pictures()))
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        device.trickle(SLOWLORIS)
        async with within(REQUEST + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.snapshot(source="device")


async def test_a_trickled_first_mjpeg_picture_fails_the_stream_open_within_open_timeout(
    device: HttpDevice,
) -> None:
    serve_in_turn(device, "/mjpeg", lambda: mjpeg(pictures()))
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        device.trickle(SLOWLORIS)
        async with within(FAST["open_timeout"] + SLACK):
            with pytest.raises(CameraTimeoutError):
                await cam.stream().open()


async def test_an_mjpeg_picture_trickled_mid_stream_is_a_stall_within_stall_timeout(
    device: HttpDevice,
) -> None:
    route = serve_in_turn(device, "/mjpeg", lambda: mjpeg(pictures()))
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        async with cam.events(kinds={EventKind.STREAM_STATE}) as health, cam.stream() as stream:
            packets = stream.packets()
            assert isinstance(await anext(packets), MediaPacket)
            route.trickle(SLOWLORIS)  # the running answer slows down from its next write
            async with within(FAST["stall_timeout"] + SLACK):
                stalled = await next_state(health, StreamState.STALLED)
            assert "no media for 1 s" in stalled.extra["detail"]
            await packets.aclose()


async def next_state(
    events: AsyncIterator[camsdk.CameraEvent], state: StreamState
) -> camsdk.CameraEvent:
    """The next stream-health event reporting ``state``."""
    async for event in events:
        if event.extra.get("state") == state.value:
            return event
    raise AssertionError("the event stream ended")
