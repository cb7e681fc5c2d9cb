"""`RtspServer(accept_path=...)`: one stream served on every path a predicate accepts."""

from __future__ import annotations

import re

import anyio
import pytest

from camsdk._rtsp import RtspSettings, RtspUpstream, describe
from camsdk.driver import CamError, MediaPacket
from camsdk.testing import RtspServer
from camsdk.testing._rtsp_source import EncodedLoop

pytestmark = pytest.mark.anyio

CHANNEL = re.compile(r"/Streaming/Channels/\d{3}")


def _channels(path: str) -> bool:
    return CHANNEL.fullmatch(path) is not None


async def _packets(url: str, count: int = 4) -> list[MediaPacket]:
    upstream = RtspUpstream(RtspSettings(url))
    got: list[MediaPacket] = []
    try:
        with anyio.fail_after(15):
            await upstream.start()
            async for packet in upstream:
                got.append(packet)
                if len(got) >= count:
                    break
    finally:
        await upstream.aclose()
    return got


async def test_a_path_the_predicate_accepts_is_played_with_every_track(clip: EncodedLoop) -> None:
    async with RtspServer(clip, path="/Streaming/Channels/101", accept_path=_channels) as srv:
        base = f"rtsp://127.0.0.1:{srv.port}/Streaming/Channels/102"
        packets = await _packets(base, count=20)
        setups = [uri for method, uri in srv.requests if method == "SETUP"]
    assert packets[0].keyframe
    assert {p.kind for p in packets} == {"video", "audio"}
    assert len(setups) == 2
    assert all(uri.startswith("/Streaming/Channels/102/") for uri in setups)


async def test_the_description_names_the_accepted_path_as_its_base(clip: EncodedLoop) -> None:
    async with RtspServer(clip, accept_path=_channels) as srv:
        with anyio.fail_after(10):
            sdp = await describe(RtspSettings(
                f"rtsp://127.0.0.1:{srv.port}/Streaming/Channels/201"))
    assert sdp.base_url.rstrip("/").endswith("/Streaming/Channels/201")


async def test_a_path_the_predicate_refuses_is_not_found(clip: EncodedLoop) -> None:
    async with RtspServer(clip, accept_path=_channels) as srv:
        with anyio.fail_after(10), pytest.raises(CamError):
            await describe(RtspSettings(f"rtsp://127.0.0.1:{srv.port}/Streaming/Channels/9"))
    assert ("DESCRIBE", "/Streaming/Channels/9") in srv.requests


async def test_parameters_in_the_query_reach_the_request_log(clip: EncodedLoop) -> None:
    async with RtspServer(clip, path="/cam/realmonitor",
                          accept_path=lambda p: p == "/cam/realmonitor") as srv:
        url = f"rtsp://127.0.0.1:{srv.port}/cam/realmonitor?channel=2&subtype=1"
        assert await _packets(url)
    described = [r.uri for r in srv.request_log if r.method == "DESCRIBE"]
    assert described and "channel=2&subtype=1" in described[0]


async def test_the_own_path_is_still_served_beside_the_predicate(clip: EncodedLoop) -> None:
    async with RtspServer(clip, path="/live", accept_path=_channels) as srv:
        assert await _packets(srv.url)
