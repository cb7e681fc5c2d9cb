"""Robust upstream: every fault of RtspServer, measured against the promised bounds.

Bounds (``FAST``: open_timeout 2 s, stall_timeout 1 s, backoff 0.2..1 s):

- an open that cannot finish fails within ``open_timeout + 1`` s;
- a stall is detected within ``stall_timeout + 1`` s of the last packet;
- after a restart or drop the stream resumes within the backoff + 1 s, with
  a `Discontinuity` and DTS that keep increasing;
- closing never waits on the network: camsdk's RTSP client runs on the
  event loop, with no thread and no native call to abandon.
"""

from __future__ import annotations

import io
import socket
import time
from itertools import pairwise

import anyio
import av
import numpy as np
import pytest

import camsdk
from camsdk import Discontinuity, MediaPacket, StreamState
from camsdk.testing import EncodedLoop, RtspFault, RtspServer

from ._helpers import FAST, StateLog, session_of, take_packets, until_marker

pytestmark = pytest.mark.anyio

OPEN = FAST["open_timeout"]
STALL = FAST["stall_timeout"]


def _open(url: str, config: dict[str, object] | None = None, **options: object) -> camsdk.Camera:
    # probe=0: connect does no I/O, so faults hit the stream, not connect.
    return camsdk.open(url, config=config or FAST, probe=False, **options)  # type: ignore[arg-type]


async def _open_fails_in_time(url: str) -> BaseException:
    async with _open(url) as cam:
        started = time.monotonic()
        with anyio.fail_after(OPEN + 2), pytest.raises(camsdk.CamError) as caught:
            await cam.stream().open()
        assert time.monotonic() - started <= OPEN + 1
    return caught.value


# -- opening -----------------------------------------------------------------------------


async def test_nothing_listening_is_unreachable_within_open_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = await _open_fails_in_time(f"rtsp://127.0.0.1:{port}/stream")
    assert isinstance(err, camsdk.CameraUnreachableError)


async def test_refused_connections_fail_within_open_timeout(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.REFUSE)
        err = await _open_fails_in_time(server.url)
        assert isinstance(err, camsdk.CameraConnectionError | camsdk.StreamError)


async def test_black_hole_open_fails_within_open_timeout(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.BLACK_HOLE)
        err = await _open_fails_in_time(server.url)
        assert isinstance(err, camsdk.CameraTimeoutError)


async def test_black_hole_connect_fails_within_connect_timeout(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.BLACK_HOLE)
        cam = camsdk.open(server.url, config={**FAST, "connect_timeout": 1.0})
        started = time.monotonic()
        with pytest.raises(camsdk.CameraTimeoutError):
            await cam.connect()
        assert time.monotonic() - started < 2.0


async def test_bad_sdp_fails_the_open_and_the_session_recovers(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.BAD_SDP)
        err = await _open_fails_in_time(server.url)
        # The device answered something that is not SDP: a protocol error.
        assert isinstance(err, camsdk.CameraProtocolError | camsdk.StreamOpenError)
        server.clear_faults()
        async with _open(server.url) as cam, cam.stream() as stream:
            assert stream.info.codec == "h264"


async def test_401_is_an_authentication_error_at_once(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(RtspFault.UNAUTHORIZED)
        async with _open(server.url) as cam:
            started = time.monotonic()
            with pytest.raises(camsdk.AuthenticationError):
                await cam.stream().open()
            # Well inside the open deadline: the 401 ends the attempt, no retry storm.
            assert time.monotonic() - started < OPEN


@pytest.mark.parametrize(
    ("fault", "error"),
    [(RtspFault.SESSION_NOT_FOUND, camsdk.StreamOpenError),
     (RtspFault.SERVICE_UNAVAILABLE, camsdk.DeviceError)],
)
async def test_454_and_503_are_retried_with_backoff_until_they_clear(
    h264_loop: EncodedLoop, fault: RtspFault, error: type[BaseException]
) -> None:
    async with RtspServer(h264_loop) as server:
        server.inject(fault)
        async with _open(server.url, config={**FAST, "open_timeout": 6.0}) as cam:
            stream = cam.stream()
            log = StateLog()
            async with anyio.create_task_group() as tg:
                opened = anyio.Event()

                async def open_stream() -> None:
                    await stream.open()
                    opened.set()

                tg.start_soon(open_stream)
                await anyio.wait_all_tasks_blocked()
                log.attach(session_of(cam))
                await log.wait_for(StreamState.BACKOFF, timeout=3)
                assert isinstance(session_of(cam)._last_error, error)
                cleared = time.monotonic()
                server.clear_faults()
                with anyio.fail_after(FAST["backoff_cap"] + 2):
                    await opened.wait()
                assert time.monotonic() - cleared <= max(log.backoffs) + 1.0
            await stream.aclose()


# -- while streaming ---------------------------------------------------------------------


async def test_stall_is_detected_and_the_stream_resumes_after_a_discontinuity(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop) as server:
        async with _open(server.url) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                log = StateLog()
                log.attach(session_of(cam))
                before = await take_packets(packets, 10)
                server.inject(RtspFault.STALL)
                last, marked = await until_marker(packets, timeout=STALL + 3)
                last = last or before[-1]
                assert marked - last.received_at <= STALL + 1.0
                assert StreamState.STALLED in log.states()
                server.clear_faults()
                resumed = await take_packets(packets, 5, timeout=OPEN + 3)
                assert resumed[0].keyframe and resumed[0].dts > last.dts  # type: ignore[operator]
                assert stream.stats().state is StreamState.STREAMING
                assert stream.stats().reconnects == 1


async def test_a_stream_that_comes_back_without_video_counts_as_stalled(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop) as server:
        async with _open(server.url) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                await take_packets(packets, 5)
                log = StateLog()
                log.attach(session_of(cam))
                # The server keeps answering RTSP, so reconnects "succeed", without media.
                server.inject(RtspFault.STALL)
                await log.wait_for(StreamState.STALLED, timeout=STALL + 2)
                first = len(log.changes)
                connecting = await log.wait_for(StreamState.CONNECTING, since=first,
                                                timeout=FAST["backoff_cap"] + 2)
                again = await log.wait_for(StreamState.STALLED, since=first, timeout=OPEN + 2)
                assert again - connecting <= OPEN + 1.0
                assert StreamState.STREAMING not in log.states()
                server.clear_faults()
                await take_packets(packets, 3, timeout=OPEN + 3)


async def test_dropped_connection_reconnects_with_increasing_dts(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        async with _open(server.url) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                before = await take_packets(packets, 10)
                dropped = time.monotonic()
                server.inject(RtspFault.DROP)
                last, marked = await until_marker(packets, timeout=STALL + 3)
                assert marked - dropped <= 1.0  # a closed socket is noticed at once
                server.clear_faults()
                after = await take_packets(packets, 10, timeout=OPEN + 3)
    assert after[0].keyframe
    newest = last or before[-1]
    assert after[0].dts > newest.dts  # type: ignore[operator]
    assert all(b.dts > a.dts for a, b in pairwise(after))  # type: ignore[operator]


async def test_server_restart_resumes_within_backoff_plus_one_second(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop) as server:
        async with _open(server.url) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                await take_packets(packets, 5)
                log = StateLog()
                log.attach(session_of(cam))
                server.inject(RtspFault.RESTART, delay=0.5)
                await anyio.sleep(0)  # let the restart task close the listener
                with anyio.fail_after(3):
                    await server.wait_ready()
                back = time.monotonic()
                items: list[object] = []
                with anyio.fail_after(OPEN + FAST["backoff_cap"] + 3):
                    async for item in packets:
                        items.append(item)
                        if isinstance(item, MediaPacket) and any(
                            isinstance(i, Discontinuity) for i in items
                        ):
                            break
                resumed = time.monotonic()
                assert log.backoffs, "the session never backed off"
                assert resumed - back <= max(log.backoffs) + 1.0
                assert isinstance(items[-1], MediaPacket) and items[-1].keyframe


async def test_snapshots_under_corrupted_packets_are_whole_pictures_of_the_stream(
    h264_loop: EncodedLoop,
) -> None:
    # What the decoder can detect (concealment, damaged parameter sets that
    # change the picture size) never becomes a snapshot. Byte flips that decode
    # "cleanly" into wrong pixels cannot be detected without checksums, which
    # RTP does not carry; over TCP interleaved they do not happen.
    async with RtspServer(h264_loop, seed=7) as server:
        async with _open(server.url, config={**FAST, "snapshot_timeout": 8.0}) as cam:
            async with cam.stream() as stream:
                server.inject(RtspFault.CORRUPT, fraction=0.2)
                for _ in range(4):
                    snap = await cam.snapshot(max_age=0)
                    picture = _decode_jpeg(snap.jpeg)
                    assert (snap.width, snap.height) == (stream.info.width, stream.info.height)
                    assert picture.shape == (stream.info.height, stream.info.width)


def _decode_jpeg(jpeg: bytes) -> np.ndarray:
    with av.open(io.BytesIO(jpeg), "r") as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="gray").astype(np.float32)


# -- closing never waits on the network ----------------------------------------------------
