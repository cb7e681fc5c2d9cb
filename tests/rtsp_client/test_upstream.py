"""`RtspUpstream` against camsdk's RtspServer: packets, info, time, transports, lifecycle."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from itertools import pairwise

import anyio
import pytest

from camsdk._errors import CameraClosedError, StreamEndedError
from camsdk._rtsp import RtspUpstream
from camsdk._rtsp._nal import split_annexb
from camsdk.testing import EncodedLoop, RtspServer
from camsdk.testing._rtsp_server import RtspQuirks

from ._helpers import settings, take

pytestmark = pytest.mark.anyio


async def test_h264_info_and_the_first_packet_is_a_keyframe_at_time_zero(
    aac_loop: EncodedLoop,
) -> None:
    async with RtspServer(aac_loop) as server, RtspUpstream(settings(server.url)) as upstream:
        info = upstream.info
        assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 30.0)
        assert info.time_base == Fraction(1, 90000)
        assert split_annexb(info.extradata or b"")[0][0] & 0x1F == 7
        assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 1)
        assert info.audio_extradata == aac_loop.info.audio_extradata
        assert upstream.live and not upstream.finite
        first = (await take(upstream, 1, kind="video"))[0]
        assert first.keyframe and first.pts == 0 and first.dts == 0


async def test_h265_info_comes_from_the_sdp_parameter_sets(h265_loop: EncodedLoop) -> None:
    async with RtspServer(h265_loop) as server, RtspUpstream(settings(server.url)) as upstream:
        assert (upstream.info.codec, upstream.info.width, upstream.info.height) == (
            "hevc", 320, 240)
        packets = await take(upstream, 20)
    assert packets[0].keyframe and all(p.kind == "video" for p in packets)


@pytest.mark.parametrize("loop_name", ["h264_loop", "h265_loop"])
async def test_video_units_are_the_encoded_frames_byte_for_byte(
    loop_name: str, request: pytest.FixtureRequest
) -> None:
    loop: EncodedLoop = request.getfixturevalue(loop_name)
    async with RtspServer(loop, speed=4) as server, RtspUpstream(settings(server.url)) as up:
        packets = await take(up, len(loop.video) + 5)
    expected = [split_annexb(p.data) for p in loop.video]
    got = [split_annexb(p.data) for p in packets]
    assert got[: len(expected)] == expected
    assert got[len(expected)] == expected[0]  # the loop seam: the next lap starts over
    assert [p.pts for p in packets[:4]] == [0, 3000, 6000, 9000]


async def test_audio_frames_are_the_encoded_aac_frames(aac_loop: EncodedLoop) -> None:
    async with RtspServer(aac_loop) as server, RtspUpstream(settings(server.url)) as up:
        audio = await take(up, 10, kind="audio")
    assert [p.data for p in audio] == [p.data for p in aac_loop.audio[:10]]
    assert [p.pts for p in audio] == [1024 * i for i in range(10)]
    assert all(p.time_base == Fraction(1, 48000) and p.duration == 1024 for p in audio)


async def test_audio_can_be_left_out(aac_loop: EncodedLoop) -> None:
    async with RtspServer(aac_loop) as server:
        async with RtspUpstream(settings(server.url, audio=False)) as up:
            packets = await take(up, 20)
            assert up.info.audio_codec is None
        assert [p for _, p in server.requests if "trackID=1" in p] == []
    assert {p.kind for p in packets} == {"video"}


async def test_dts_increase_strictly_per_track(aac_loop: EncodedLoop) -> None:
    async with RtspServer(aac_loop, speed=4) as server, RtspUpstream(settings(server.url)) as up:
        packets = await take(up, 150)
    for kind in ("video", "audio"):
        dts = [p.dts or 0 for p in packets if p.kind == kind]
        assert all(b > a for a, b in pairwise(dts))


async def test_sequence_and_timestamp_wrap_around_without_a_jump_or_gap(
    h264_loop: EncodedLoop,
) -> None:
    quirks = RtspQuirks(initial_seq=65500, initial_rtptime=2**32 - 30000)
    async with RtspServer(h264_loop, quirks=quirks, speed=4) as server:
        async with RtspUpstream(settings(server.url)) as up:
            packets = await take(up, 45)
            track = up.tracks[0]
            assert (track.lost_packets, up.gaps, track.bad) == (0, 0, 0)
            assert track.received > 40  # well past sequence 65535
    assert [p.pts for p in packets] == [3000 * i for i in range(45)]


async def test_wallclock_is_known_after_the_first_sender_report(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        packets = await take(up, 5)
    # The server sends a sender report before its first packet of each track.
    assert all(p.wallclock is not None for p in packets)
    for p in packets:
        assert p.wallclock is not None
        # Capture time on the camera's clock, as sent; the server stamps at send time.
        assert abs(p.wallclock - (time.time() - (time.monotonic() - p.received_at))) < 0.25
    spans = [(p.wallclock - packets[0].wallclock, (p.pts - packets[0].pts) / 90000)
             for p in packets if p.wallclock is not None and packets[0].wallclock is not None
             and p.pts is not None and packets[0].pts is not None]
    assert all(abs(a - b) < 1e-6 for a, b in spans)


async def test_receiver_reports_reach_the_server(aac_loop: EncodedLoop) -> None:
    async with RtspServer(aac_loop) as server:
        async with RtspUpstream(settings(server.url, report_interval=0.1)) as up:
            with anyio.fail_after(5):
                async for _ in up:
                    if server.rtcp_received >= 4:
                        break


@pytest.mark.parametrize(("public", "method"), [
    (None, "GET_PARAMETER"),
    ("OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN", "OPTIONS"),
])
async def test_keepalives_follow_the_session_timeout(
    h264_loop: EncodedLoop, public: str | None, method: str
) -> None:
    async with RtspServer(h264_loop, session_timeout=2, quirks=RtspQuirks(public=public)) as srv:
        async with RtspUpstream(settings(srv.url)) as up:
            started = time.monotonic()
            with anyio.fail_after(5):
                async for _ in up:
                    if [m for m, _ in srv.requests].count(method) >= (2 if method == "OPTIONS"
                                                                      else 1):
                        break
            # Half the session timeout (a second), not at once; fail_after bounds the late side.
            assert time.monotonic() - started > 0.8
        keepalive = [r for r in srv.request_log if r.method == method][-1]
        assert "session" in keepalive.headers


async def test_an_rtcp_bye_ends_the_stream(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        await take(up, 2)
        assert server.send_bye() == 1
        with pytest.raises(StreamEndedError, match="BYE"), anyio.fail_after(5):
            async for _ in up:
                pass


@pytest.mark.parametrize("quirks", [
    RtspQuirks(content_base="none"),
    RtspQuirks(content_base="location"),
    RtspQuirks(base_trailing_slash=False),
    RtspQuirks(content_base="none", control="absolute"),
    RtspQuirks(control="path"),
    RtspQuirks(control="other_host"),
], ids=["no-content-base", "content-location", "no-slash", "absolute", "path", "other-host"])
async def test_control_url_quirks(aac_loop: EncodedLoop, quirks: RtspQuirks) -> None:
    async with RtspServer(aac_loop, quirks=quirks) as server:
        async with RtspUpstream(settings(server.url)) as up:
            packets = await take(up, 10)
        setups = [path for method, path in server.requests if method == "SETUP"]
    assert setups == ["/stream/trackID=0", "/stream/trackID=1"]
    assert {p.kind for p in packets} == {"video", "audio"}


async def test_aclose_sends_teardown_and_is_idempotent(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        up = RtspUpstream(settings(server.url))
        await up.start()
        await take(up, 1)
        await up.aclose()
        await up.aclose()
        assert server.requests[-1][0] == "TEARDOWN"
        with pytest.raises(CameraClosedError):
            await up.__anext__()
        with pytest.raises(CameraClosedError):
            await up.start()


async def test_aclose_from_another_task_ends_a_running_iteration(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        up = RtspUpstream(settings(server.url))
        await up.start()
        errors: list[BaseException] = []
        reading = anyio.Event()

        async def read() -> None:
            try:
                async for _ in up:
                    reading.set()
            except CameraClosedError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            with anyio.fail_after(5):
                await reading.wait()
            await up.aclose()
        assert len(errors) == 1


async def test_aclose_while_start_runs_in_another_task() -> None:
    connected = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        connected.set()  # reads nothing, answers nothing

    listener = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    up = RtspUpstream(settings(f"rtsp://127.0.0.1:{port}/x", request_timeout=30))
    outcome: list[BaseException] = []

    async def start() -> None:
        try:
            await up.start()
        except CameraClosedError as exc:
            outcome.append(exc)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(start)
            with anyio.fail_after(5):
                await connected.wait()
            await up.aclose()
    finally:
        for writer in writers:
            writer.close()
        listener.close()
        await listener.wait_closed()
    assert len(outcome) == 1


@pytest.mark.parametrize("loop_name", ["h264_loop", "h265_loop"])
async def test_without_sdp_parameter_sets_the_info_comes_from_the_first_keyframe(
    loop_name: str, request: pytest.FixtureRequest
) -> None:
    loop: EncodedLoop = request.getfixturevalue(loop_name)
    async with RtspServer(loop, quirks=RtspQuirks(sprop=False)) as server:
        async with RtspUpstream(settings(server.url)) as up:
            assert "sprop" not in up.description.text
            assert (up.info.width, up.info.height) == (320, 240)
            assert up.info.extradata
            assert (await take(up, 1))[0].keyframe


def test_an_unreadable_sps_falls_back_to_decoding_the_keyframe(h264_loop: EncodedLoop) -> None:
    from camsdk._rtsp._info import decoded_size

    keyframe = h264_loop.video[0].data
    assert decoded_size("h264", h264_loop.info.extradata, keyframe) == (320, 240)


async def test_video_durations_follow_the_sdp_frame_rate(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server, RtspUpstream(settings(server.url)) as up:
        packets = await take(up, 3)
    assert {p.duration for p in packets} == {3000}
