"""HLS: the hls+http:// driver, and PyAVReader on a plain live playlist URL."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import anyio
import pytest

import camsdk
from camsdk import Credentials, MediaPacket
from camsdk.drivers.hls import parse_playlist
from camsdk.testing import HttpDevice, Request, Response

from ._helpers import take_packets
from ._hls_server import HlsServer

pytestmark = pytest.mark.anyio

CONFIG = {"open_timeout": 5.0, "stall_timeout": 3.0, "idle_close": 0.0}


def _increasing(packets: list[MediaPacket]) -> bool:
    return all(b.dts > a.dts for a, b in pairwise(packets))  # type: ignore[operator]


async def test_live_playlist_streams_packets_and_snapshots(hls_playlist: Path) -> None:
    async with HlsServer(hls_playlist) as server:
        url = server.url(scheme="hls+http")
        async with camsdk.open(url, config=CONFIG) as cam:
            assert cam.info.extra["type"] == "live"
            snap = await cam.snapshot()
            assert (snap.width, snap.height) == (320, 240)
            async with cam.stream() as stream, stream.packets() as packets:
                assert stream.info.codec == "h264"
                # 40 packets at 30 fps span several 0.5 s segments: reloads work.
                got = await take_packets(packets, 40, timeout=10)
    assert got[0].keyframe and _increasing(got)


async def test_vod_playlist_ends(hls_playlist: Path) -> None:
    async with HlsServer(hls_playlist, vod=True) as server:
        async with camsdk.open(server.url(scheme="hls+http"), config=CONFIG) as cam:
            assert cam.info.extra["type"] == "vod"
            async with cam.stream() as stream, stream.packets() as packets:
                count = 0
                with anyio.fail_after(20):
                    async for item in packets:
                        count += isinstance(item, MediaPacket)
    assert count > 0  # and the iterator ended by itself


async def test_master_playlist_variants_become_profiles(hls_playlist: Path) -> None:
    async with HlsServer(hls_playlist) as server:
        async with camsdk.open(server.url("/master.m3u8", "hls+http"), config=CONFIG) as cam:
            assert [(p.name, p.width) for p in cam.info.profiles] == [("main", 320),
                                                                      ("sub", 160)]
            async with cam.stream("sub") as stream, stream.packets() as packets:
                await take_packets(packets, 5, timeout=10)
        assert "/lo/live.m3u8" in server.requests


async def test_basic_auth_from_credentials(hls_playlist: Path) -> None:
    async with HlsServer(hls_playlist, username="viewer", password="hls-pw") as server:
        url = server.url(scheme="hls+http")
        creds = Credentials("viewer", "hls-pw")
        async with camsdk.open(url, config=CONFIG, credentials=creds) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                await take_packets(packets, 5, timeout=10)
        with pytest.raises(camsdk.AuthenticationError):
            await camsdk.open(url, config=CONFIG, credentials=Credentials("viewer", "no")).connect()


@pytest.mark.parametrize("scheme", ["hls+http", "http"])
async def test_segments_on_a_host_the_caller_did_not_name_are_never_fetched(
    scheme: str,
) -> None:
    # Both entry points (hls+http:// and a plain http://...m3u8) go through
    # camsdk's HLS client, which fetches only from the caller's host.
    async with HttpDevice(host="127.0.0.2") as elsewhere, HttpDevice() as device:
        elsewhere.route("GET", "/seg.ts", lambda request: _ts_segment())
        playlist = (
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
            + "".join(f"#EXTINF:0.5,\n{elsewhere.url}/seg.ts\n" for _ in range(4))
        )

        async def serve(request: Request) -> Response:
            return Response(200, playlist.encode(), content_type="application/vnd.apple.mpegurl")

        device.route("GET", "/live.m3u8", serve)
        url = device.url.replace("http://", f"{scheme}://") + "/live.m3u8"
        config = {**CONFIG, "open_timeout": 2.0}
        async with camsdk.open(url, config=config) as cam:
            with pytest.raises(camsdk.CamError) as info:
                async with cam.stream():
                    pass
        assert isinstance(info.value, camsdk.RedirectRefusedError), repr(info.value)
        assert list(elsewhere.requests) == []


async def _ts_segment() -> Response:
    return Response(200, b"\x47" * 188, content_type="video/mp2t")


def test_playlist_parser_tells_master_live_and_vod_apart() -> None:
    master = parse_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5,RESOLUTION=64x48\nlo.m3u8\n")
    assert master.master and master.variants[0].height == 48
    vod = parse_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n")
    assert (vod.live, vod.target_duration) == (False, 4.0)
    with pytest.raises(camsdk.CameraProtocolError):
        parse_playlist("<html>")
