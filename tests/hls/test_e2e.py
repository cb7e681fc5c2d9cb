"""End to end over loopback HTTP: a live server, the cross-check against FFmpeg's HLS reader,
AES-128 on the wire, and a discontinuity reaching a `StreamSession` consumer as a marker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import av
import pytest
from av.bitstream import BitStreamFilterContext

from camsdk import CameraConfig, Discontinuity, MediaPacket, StreamEndedError
from camsdk._hls import HlsUpstream
from camsdk._hls._bitstream import strip_adts
from camsdk._pipeline._session import StreamSession
from tests.network._hls_server import HlsServer

from ._fakes import drain
from ._fetcher import HttpxFetcher

pytestmark = pytest.mark.anyio

Signature = tuple[str, bytes, int | None, bool]


@pytest.fixture
async def fetcher() -> AsyncIterator[HttpxFetcher]:
    client = HttpxFetcher({"127.0.0.1"})
    yield client
    await client.aclose()


def segment_requests(server: HlsServer) -> list[str]:
    return [p for p in server.requests if p.startswith("/seg")]


async def test_a_live_playlist_streams_over_http_fetching_each_segment_once(
    ts_av: Path, fetcher: HttpxFetcher
) -> None:
    async with HlsServer(ts_av) as server:
        stream = HlsUpstream(server.url(), fetcher, scheme="hls+http")
        try:
            with anyio.fail_after(10):
                info = await stream.start()
                got: list[MediaPacket] = []
                async for packet in stream:
                    if packet.kind == "video":
                        got.append(packet)
                        if len(got) >= 40:  # more than two 0.5 s segments: reloads work
                            break
        finally:
            await stream.aclose()
    assert (info.codec, info.width, info.audio_codec) == ("h264", 320, "aac")
    assert stream.live and not stream.finite
    assert got[0].keyframe and all(b.dts > a.dts for a, b in pairwise(got))  # type: ignore[operator]
    requested = segment_requests(server)
    assert len(requested) == len(set(requested)) >= 3


async def test_a_master_playlist_over_http_reads_its_best_variant(
    ts_av: Path, fetcher: HttpxFetcher
) -> None:
    async with HlsServer(ts_av, vod=True) as server:
        _, packets, ended = await drain(
            HlsUpstream(server.url("/master.m3u8"), fetcher), limit=20
        )
    assert len(packets) == 20 and ended is None
    assert "/hi/live.m3u8" in server.requests and "/lo/live.m3u8" not in server.requests


def _ffmpeg_hls_reader(url: str, annexb: bool) -> list[Signature]:
    """What PyAV's own HLS demuxer yields for ``url`` (blocking; run it in a thread).

    fMP4 gives length-prefixed NAL units there: ``annexb`` runs FFmpeg's own
    ``h264_mp4toannexb`` filter over them. ADTS headers are stripped from AAC.
    """
    container = av.open(url, format="hls", timeout=10)
    try:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        bsf = BitStreamFilterContext("h264_mp4toannexb", video) if annexb else None
        out: list[Signature] = []
        for packet in container.demux(video, audio):
            if packet.size == 0:
                continue
            if packet.stream is audio:
                out.append(("audio", strip_adts(bytes(packet)), packet.pts, True))
            elif bsf is None:
                out.append(("video", bytes(packet), packet.pts, packet.is_keyframe))
            else:
                out += [("video", bytes(p), p.pts, p.is_keyframe) for p in bsf.filter(packet)]
        return out
    finally:
        container.close()


def _signatures(packets: list[MediaPacket]) -> list[Signature]:
    return [(p.kind, p.data, p.pts, p.keyframe) for p in packets]


@pytest.mark.parametrize("fixture", ["ts_av", "fmp4_av"])
async def test_packets_equal_what_ffmpegs_own_hls_reader_yields(
    fixture: str, request: pytest.FixtureRequest, fetcher: HttpxFetcher
) -> None:
    playlist: Path = request.getfixturevalue(fixture)
    async with HlsServer(playlist, vod=True) as server:
        with anyio.fail_after(30):
            reference = await asyncio.to_thread(
                _ffmpeg_hls_reader, server.url(), fixture == "fmp4_av"
            )
            _, packets, ended = await drain(HlsUpstream(server.url(), fetcher))
    assert isinstance(ended, StreamEndedError)
    ours = _signatures(packets)
    for kind in ("video", "audio"):
        mine = [s for s in ours if s[0] == kind]
        theirs = [s for s in reference if s[0] == kind]
        assert len(mine) == len(theirs) > 100
        assert mine == theirs, kind


async def test_aes_128_segments_stream_over_http(ts_av: Path, fetcher: HttpxFetcher) -> None:
    key = bytes.fromhex("00112233445566778899aabbccddeeff")
    async with HlsServer(ts_av, vod=True) as plain_server:
        _, plain, _ = await drain(HlsUpstream(plain_server.url(), fetcher), limit=60)
    async with HlsServer(ts_av, vod=True, key=key) as server:
        _, packets, _ = await drain(HlsUpstream(server.url(), fetcher), limit=60)
    assert _signatures(packets) == _signatures(plain)
    assert server.requests.count("/key.bin") == 1


async def test_a_discontinuity_reaches_session_consumers_as_a_marker(
    ts_video: Path, fetcher: HttpxFetcher
) -> None:
    # The looping server tags every lap with EXT-X-DISCONTINUITY; its timestamps jump back.
    async with HlsServer(ts_video, loop=True) as server:

        async def open_upstream() -> Any:
            upstream = HlsUpstream(server.url(), fetcher, scheme="hls+http")
            try:
                await upstream.start()
            except BaseException:
                await upstream.aclose()
                raise
            return upstream

        session = StreamSession(
            name="hls", open_upstream=open_upstream, url=server.url(), idle_close=0.0,
            config=CameraConfig(open_timeout=5.0, stall_timeout=3.0),
        )
        session.acquire()
        consumer = session.attach_packets()
        items: list[MediaPacket | Discontinuity] = []
        try:
            with anyio.fail_after(15):
                after_marker = 0
                while after_marker < 20:
                    item = await consumer.queue.get()
                    items.append(item)
                    if any(isinstance(i, Discontinuity) for i in items):
                        after_marker += 1
        finally:
            session.detach_packets(consumer)
            session.release()
            await session.aclose()
    markers = [i for i in items if isinstance(i, Discontinuity)]
    assert [m.reason for m in markers] == ["timestamp"]
    video = [i for i in items if isinstance(i, MediaPacket) and i.kind == "video"]
    assert all(b.dts > a.dts for a, b in pairwise(video))  # type: ignore[operator]
    first_after = items[items.index(markers[0]) + 1]
    assert isinstance(first_after, MediaPacket) and first_after.keyframe
