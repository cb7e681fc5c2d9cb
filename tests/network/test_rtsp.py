"""The rtsp:// driver against camsdk's RtspServer: transports, auth, codecs, profiles."""

from __future__ import annotations

import logging
import time
from itertools import pairwise

import anyio
import pytest

import camsdk
from camsdk import Capability, Credentials, MediaPacket
from camsdk._rtsp._sdp import parse_sdp
from camsdk._rtsp._urls import Origin
from camsdk._url import CameraURL
from camsdk.drivers.rtsp import RtspDriver, RtspOptions, derive_sub_stream, summarise
from camsdk.testing import EncodedLoop, RtspServer

from ._helpers import FAST, take_packets

pytestmark = pytest.mark.anyio


def _driver(url: str, credentials: Credentials | None = None, **options: object) -> RtspDriver:
    parsed = CameraURL.parse(url)
    return RtspDriver(url=parsed, credentials=credentials,
                      options=RtspOptions.model_validate(options))


# -- the StreamSource handed to the pipeline ----------------------------------------------


async def test_credentials_travel_beside_the_url_never_in_it() -> None:
    driver = _driver("rtsp://cam.local:8554/live", Credentials("ad min", "p@ss:w/rd"))
    source = await driver.stream_source("main")
    assert source.url == "rtsp://cam.local:8554/live"
    assert source.credentials == Credentials("ad min", "p@ss:w/rd")
    assert "p%40ss" not in repr(source) and "p@ss" not in repr(source)


async def test_credentials_object_wins_over_inline_ones() -> None:
    driver = _driver("rtsp://old:old-pw@cam/live", Credentials("new", "new-pw"))
    source = await driver.stream_source("main")
    assert source.credentials == Credentials("new", "new-pw")
    assert "old" not in source.url


async def test_inline_credentials_are_used_when_no_object_is_given() -> None:
    source = await _driver("rtsp://old:old-pw@cam/live").stream_source("main")
    assert source.credentials == Credentials("old", "old-pw")
    assert source.url == "rtsp://cam/live"


async def test_device_query_stays_in_the_url_and_options_leave_it() -> None:
    driver = _driver("rtsp://cam.local/cam/realmonitor?channel=1&subtype=0", transport="udp")
    source = await driver.stream_source("main")
    assert source.url.endswith("/cam/realmonitor?channel=1&subtype=0")
    assert source.transport == "udp"


async def test_tcp_and_camsdks_own_client_are_the_defaults() -> None:
    source = await _driver("rtsp://cam.local/live").stream_source("main")
    assert (source.transport, source.client) == ("tcp", "camsdk")


@pytest.mark.parametrize(
    ("path", "query", "sub"),
    [
        ("/Streaming/Channels/101", (), ("/Streaming/Channels/102", ())),
        ("/ISAPI/Streaming/channels/401", (), ("/ISAPI/Streaming/channels/402", ())),
        ("/h264Preview_01_main", (), ("/h264Preview_01_sub", ())),
        ("/cam/realmonitor", (("channel", "1"), ("subtype", "0")),
         ("/cam/realmonitor", (("channel", "1"), ("subtype", "1")))),
        ("/stream1", (), ("/stream2", ())),
        ("/videoMain", (), ("/videoSub", ())),
        ("/live", (), None),
    ],
)
def test_vendor_url_schemes_reveal_the_sub_stream(
    path: str, query: tuple[tuple[str, str], ...], sub: tuple[str, tuple[tuple[str, str], ...]]
) -> None:
    assert derive_sub_stream(path, query) == sub


async def test_profiles_option_names_paths_and_unknown_profiles_are_refused() -> None:
    driver = _driver("rtsp://cam/ch1/main", profiles="sub:/ch1/sub?res=low,third:/ch1/3")
    assert driver.profile_names == ("main", "sub", "third")
    assert (await driver.stream_source("sub")).url == "rtsp://cam/ch1/sub?res=low"
    with pytest.raises(camsdk.ConfigurationError, match="unknown profile"):
        await driver.stream_source("fourth")
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.open("rtsp://cam/x", sub_path="no-slash")


def test_sdp_summary_names_codecs_and_frame_rate() -> None:
    sdp = ("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=framerate:12.5\r\n"
           "m=audio 0 RTP/AVP 0\r\n")
    desc = parse_sdp(sdp.encode(), request_url="rtsp://cam/x", content_base=None,
                     origin=Origin.parse("rtsp://cam/x"))
    summary = summarise(desc)
    assert (summary.video_codec, summary.audio_codec, summary.fps) == ("hevc", "pcm_mulaw", 12.5)


# -- against the server ------------------------------------------------------------------


async def _stream_packets(url: str, count: int = 20, **open_args: object) -> list[MediaPacket]:
    async with camsdk.open(url, config=FAST, **open_args) as cam:  # type: ignore[arg-type]
        async with cam.stream() as stream, stream.packets() as packets:
            return await take_packets(packets, count)


def _check_video(packets: list[MediaPacket]) -> None:
    video = [p for p in packets if p.kind == "video"]
    assert video[0].keyframe
    assert all(b.dts is not None and a.dts is not None and b.dts > a.dts
               for a, b in pairwise(video))


async def test_tcp_interleaved_stream(h264_loop: EncodedLoop) -> None:
    # A server without UDP answers UDP SETUPs with 461: this passes only over TCP.
    async with RtspServer(h264_loop) as server:
        _check_video(await _stream_packets(server.url))
        assert [m for m, _ in server.requests].count("PLAY") == 1
        assert server.requests[-1][0] == "TEARDOWN"  # closed cleanly


async def test_udp_transport(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, udp=True) as server:
        _check_video(await _stream_packets(server.url, transport="udp"))


async def test_udp_transport_is_really_udp(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        config = {**FAST, "open_timeout": 1.0}
        async with camsdk.open(server.url, config=config, transport="udp") as cam:
            with anyio.fail_after(config["open_timeout"] + 1), pytest.raises(camsdk.CamError):
                await cam.stream().open()


async def test_auto_transport_falls_back_to_tcp(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        _check_video(await _stream_packets(server.url, transport="auto"))


async def test_digest_auth_from_credentials_and_no_password_in_logs(
    h264_loop: EncodedLoop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="camsdk")
    password = "Digest-canary-4411"
    async with RtspServer(h264_loop, username="admin", password=password) as server:
        creds = Credentials("admin", password)
        async with camsdk.open(server.url, config=FAST, credentials=creds) as cam:
            snap = await cam.snapshot()
            assert (snap.width, snap.height) == (320, 240)
            async with cam.stream() as stream:
                assert password not in repr(stream.stats())
    assert password not in caplog.text


async def test_wrong_password_fails_fast_at_connect(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, username="admin", password="right") as server:
        cam = camsdk.open(server.url, config=FAST, credentials=Credentials("admin", "wrong"))
        started = time.monotonic()
        with pytest.raises(camsdk.AuthenticationError):
            await cam.connect()
        # The 401 ends it: no waiting for a deadline, no retries.
        assert time.monotonic() - started < FAST["open_timeout"]


async def test_wrong_password_fails_the_stream_opener_fast_without_a_retry_storm(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop, username="admin", password="right") as server:
        creds = Credentials("admin", "wrong")
        config = {**FAST, "open_timeout": 5.0, "idle_close": 2.0}
        async with camsdk.open(server.url, config=config, credentials=creds, probe=False) as cam:
            started = time.monotonic()
            with pytest.raises(camsdk.AuthenticationError):
                await cam.stream().open()
            # Failed before the 5 s open deadline: the opener is not left to retry.
            assert time.monotonic() - started < config["open_timeout"] / 2
            from ._helpers import session_of

            assert session_of(cam).state is camsdk.StreamState.AUTH_FAILED
            describes = sum(1 for method, _ in server.requests if method == "DESCRIBE")
            # FFmpeg's own challenge round trip, and no immediate retry.
            assert describes <= 2


async def test_h265_stream_and_snapshot(h265_loop: EncodedLoop) -> None:
    async with RtspServer(h265_loop) as server:
        async with camsdk.open(server.url, config=FAST) as cam:
            assert cam.info.profiles[0].codec == "hevc"
            snap = await cam.snapshot()
            assert snap.jpeg[:2] == b"\xff\xd8"
            async with cam.stream() as stream, stream.packets() as packets:
                assert stream.info.codec == "hevc"
                _check_video(await take_packets(packets, 15))


async def test_aac_audio_is_delivered_with_video(aac_loop: EncodedLoop) -> None:
    async with RtspServer(aac_loop) as server:
        async with camsdk.open(server.url, config=FAST) as cam:
            assert Capability.AUDIO in cam.capabilities
            async with cam.stream(audio=True) as stream, stream.packets() as packets:
                assert stream.info.audio_codec == "aac"
                assert stream.info.audio_sample_rate == 48000
                got = await take_packets(packets, 60)
    audio = [p for p in got if p.kind == "audio"]
    assert audio and all(b.dts > a.dts for a, b in pairwise(audio))  # type: ignore[operator]


async def test_no_audio_track_means_no_audio_capability(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        async with camsdk.open(server.url, config=FAST) as cam:
            assert Capability.AUDIO not in cam.capabilities


async def test_sub_profile_from_sub_path(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        async with camsdk.open(server.url, config=FAST, sub_path="/stream/sub") as cam:
            assert [p.name for p in cam.info.profiles] == ["main", "sub"]
            async with cam.stream("sub") as stream, stream.packets() as packets:
                _check_video(await take_packets(packets, 5))
        assert ("DESCRIBE", "/stream/sub") in server.requests


async def test_first_frame_follows_the_first_keyframe(h264_loop: EncodedLoop) -> None:
    # The server starts every session on a keyframe; with probing cut to the
    # first packet the stream is ready as soon as that keyframe is in.
    async with RtspServer(h264_loop) as server:
        async with camsdk.open(server.url, config=FAST) as cam:
            started = time.monotonic()
            async with cam.stream() as stream, stream.frames() as frames:
                with anyio.fail_after(5):
                    async for _ in frames:
                        break
            # Probing stops at the first keyframe instead of FFmpeg's default
            # analysis (5 s); the latency itself is measured in benchmarks/.
            assert time.monotonic() - started < FAST["open_timeout"]
