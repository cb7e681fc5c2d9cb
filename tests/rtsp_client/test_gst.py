"""camsdk's client against an independent server: GStreamer's gst-rtsp-server.

H.264 with AAC and H.265, over TCP interleaved, UDP and the HTTP tunnel. The
server's stream is shared and live, so clients join mid-GOP: the first video
packet must still be a keyframe, and every unit must decode cleanly.
"""

from __future__ import annotations

from typing import Any

import av
import pytest

from camsdk._rtsp import RtspUpstream, describe
from tests.network.conftest import GstServer

from ._helpers import settings, take

pytestmark = [pytest.mark.anyio, pytest.mark.external]


def decode_all(codec: str, units: list[bytes], extradata: bytes | None) -> list[Any]:
    ctx: Any = av.CodecContext.create(codec, "r")
    if extradata:
        ctx.extradata = extradata
    frames = [f for data in units for f in ctx.decode(av.Packet(data))]
    return frames + list(ctx.decode(None))


@pytest.mark.parametrize("transport", ["tcp", "udp", "http"])
async def test_h264_with_aac(gst_h264: GstServer, transport: str) -> None:
    config = settings(gst_h264.url, transport=transport)  # type: ignore[arg-type]
    async with RtspUpstream(config) as upstream:
        info = upstream.info
        assert upstream.transport == transport
        assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 30.0)
        assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 1)
        packets = await take(upstream, 60, timeout=10)
    video = [p for p in packets if p.kind == "video"]
    audio = [p for p in packets if p.kind == "audio"]
    assert video[0].keyframe and len(audio) > 5
    assert {p.duration for p in video} == {3000}  # 30 fps from the SPS: no rate in the SDP
    frames = decode_all("h264", [p.data for p in video], info.extradata)
    assert len(frames) == len(video) and not any(f.is_corrupt for f in frames)
    assert (frames[0].width, frames[0].height) == (320, 240)
    aac = decode_all("aac", [p.data for p in audio], info.audio_extradata)
    assert sum(f.samples for f in aac) >= 1024 * (len(audio) - 2)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_h265(gst_h265: GstServer, transport: str) -> None:
    config = settings(gst_h265.url, transport=transport)  # type: ignore[arg-type]
    async with RtspUpstream(config) as upstream:
        assert (upstream.info.codec, upstream.info.width, upstream.info.height) == (
            "hevc", 320, 240)
        packets = await take(upstream, 40, timeout=10)
    assert packets[0].keyframe
    frames = decode_all("hevc", [p.data for p in packets], upstream.info.extradata)
    assert len(frames) == len(packets) and not any(f.is_corrupt for f in frames)


async def test_describe_reports_the_media_and_the_final_url(gst_h264: GstServer) -> None:
    desc = await describe(settings(gst_h264.url))
    assert desc.base_url == gst_h264.url
    assert [(m.kind, m.codec) for m in desc.media] == [("video", "h264"), ("audio", "aac")]
    assert desc.content_base.startswith(gst_h264.url)
