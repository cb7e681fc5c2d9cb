"""Every fault of the test server ends in a typed error (or carries on), within bounds."""

from __future__ import annotations

import socket

import anyio
import pytest

from camsdk._errors import (
    AuthenticationError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    DeviceError,
    StreamEndedError,
    StreamOpenError,
)
from camsdk._rtsp import RtspUpstream, describe
from camsdk.testing import EncodedLoop, RtspFault, RtspServer

from ._helpers import settings, take

pytestmark = pytest.mark.anyio


async def test_refused_connections_are_unreachable(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.REFUSE)
        with pytest.raises(CameraUnreachableError) as info:
            await describe(settings(server.url))
        assert info.value.url == server.url and info.value.scheme == "rtsp"


async def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as sock:  # a port that was just free: connecting is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CameraUnreachableError, match="cannot connect"):
        await describe(settings(f"rtsp://127.0.0.1:{port}/x"))


async def test_a_black_hole_times_out_per_request(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.BLACK_HOLE)
        with anyio.fail_after(3), pytest.raises(CameraTimeoutError, match="OPTIONS"):
            await describe(settings(server.url, request_timeout=0.3))


async def test_a_stall_delivers_nothing_until_cleared(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        await take(up, 1)
        server.inject(RtspFault.STALL)
        during = 0
        with anyio.move_on_after(0.5):
            async for _ in up:  # at most what was already in flight
                during += 1
        assert during <= 2  # 30 fps: a stream that went on would have sent ~15
        server.clear_faults()
        assert (await take(up, 1))[0].keyframe  # resumes on a keyframe


async def test_a_server_that_closes_ends_the_stream(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        server.inject(RtspFault.DROP, drop_after=10)
        with pytest.raises(StreamEndedError), anyio.fail_after(5):
            async for _ in up:
                pass


async def test_a_reset_connection_is_unreachable(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        await take(up, 1)
        server.inject(RtspFault.DROP)  # abort: the client sees a reset
        with pytest.raises((CameraUnreachableError, StreamEndedError)), anyio.fail_after(5):
            async for _ in up:
                pass


async def test_a_restart_ends_the_stream_with_a_typed_error(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        await take(up, 1)
        server.inject(RtspFault.RESTART, delay=0.1)
        with pytest.raises((CameraUnreachableError, StreamEndedError)), anyio.fail_after(5):
            async for _ in up:
                pass
        await server.wait_ready()


async def test_corrupt_payloads_still_arrive_as_whole_units(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, seed=3) as server:
        server.inject(RtspFault.CORRUPT, fraction=0.5)
        async with RtspUpstream(settings(server.url)) as up:
            packets = await take(up, 20)
            assert up.gaps == 0
    assert packets[0].keyframe


@pytest.mark.parametrize(("fault", "error", "match"), [
    (RtspFault.BAD_SDP, CameraProtocolError, "SDP"),
    (RtspFault.UNAUTHORIZED, AuthenticationError, "credentials"),
    (RtspFault.SESSION_NOT_FOUND, StreamOpenError, "454"),
    (RtspFault.SERVICE_UNAVAILABLE, DeviceError, "503"),
])
async def test_error_answers_are_typed(h264_loop: EncodedLoop, fault: RtspFault,
                                      error: type[Exception], match: str) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(fault)
        upstream = RtspUpstream(settings(server.url))
        with pytest.raises(error, match=match) as info:
            await upstream.start()
        await upstream.aclose()
    if isinstance(info.value, DeviceError):
        assert info.value.code == "503"


async def test_a_missing_path_is_a_stream_open_error(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        with pytest.raises(StreamOpenError, match="404"):
            await describe(settings(server.url.replace("/stream", "/nope")))


async def test_cancelling_start_leaves_no_socket_or_task(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.BLACK_HOLE)
        upstream = RtspUpstream(settings(server.url, request_timeout=30))
        with anyio.move_on_after(0.2) as scope:
            await upstream.start()
        assert scope.cancelled_caught
        await upstream.aclose()
    # The autouse leak checks fail this test if a socket or task survived.
