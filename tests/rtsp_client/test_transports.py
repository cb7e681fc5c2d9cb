"""UDP (reordering, loss), auto fallback, RTSPS, and pictures split into several slices."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import av
import pytest

from camsdk._errors import CameraUnreachableError
from camsdk._media import MediaPacket
from camsdk._rtsp import RtspUpstream
from camsdk._rtsp._nal import START_CODE, split_annexb
from camsdk.testing import EncodedLoop, RtspFault, RtspServer
from camsdk.testing._rtsp_server import RtspQuirks

from ._helpers import settings, take
from ._tls import tls_pair

pytestmark = pytest.mark.anyio


def frames_of(loop: EncodedLoop) -> set[tuple[bytes, ...]]:
    return {tuple(split_annexb(p.data)) for p in loop.video}


async def test_udp_delivers_the_same_units_as_tcp(aac_loop: EncodedLoop) -> None:
    async with RtspServer(aac_loop, udp=True) as server:
        async with RtspUpstream(settings(server.url, transport="udp")) as up:
            assert up.transport == "udp"
            packets = await take(up, 40)
        assert next(r for r in server.request_log if r.method == "SETUP").headers[
            "transport"].startswith("RTP/AVP;unicast;client_port=")
    video = [p for p in packets if p.kind == "video"]
    assert video[0].keyframe
    assert all(tuple(split_annexb(p.data)) in frames_of(aac_loop) for p in video)
    assert {p.kind for p in packets} == {"video", "audio"}


async def test_udp_puts_reordered_packets_back_in_order(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, udp=True, seed=7, speed=3) as server:
        server.inject(RtspFault.REORDER, fraction=0.5)
        async with RtspUpstream(settings(server.url, transport="udp")) as up:
            packets = await take(up, 60)
            assert up.gaps == 0 and up.tracks[0].lost_packets == 0
    expected = [tuple(split_annexb(p.data)) for p in h264_loop.video]
    got = [tuple(split_annexb(p.data)) for p in packets]
    assert got[:30] == expected and got[30:60] == expected


async def test_udp_loss_never_yields_a_corrupt_or_undecodable_unit(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop, udp=True, seed=11, speed=4) as server:
        server.inject(RtspFault.LOSE, fraction=0.03)
        async with RtspUpstream(settings(server.url, transport="udp")) as up:
            packets: list[MediaPacket] = []
            after_gap: list[bool] = []
            gaps = up.gaps
            for packet in await take(up, 1):
                packets.append(packet)
            while len(packets) < 80:
                packet = (await take(up, 1, timeout=5))[0]
                after_gap.append(up.gaps != gaps)
                gaps = up.gaps
                packets.append(packet)
            assert up.gaps > 0 and up.tracks[0].lost_packets > 0
    source = frames_of(h264_loop)
    assert all(tuple(split_annexb(p.data)) in source for p in packets)  # whole units only
    # After each loss the first unit delivered is a keyframe: nothing refers to what was lost.
    assert all(p.keyframe for p, gap in zip(packets[1:], after_gap, strict=True) if gap)
    codec: Any = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in codec.decode(av.Packet(p.data))]
    assert len(decoded) >= len(packets) - 2 and not any(f.is_corrupt for f in decoded)


async def test_auto_uses_udp_when_it_works(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, udp=True) as server:
        async with RtspUpstream(settings(server.url, transport="auto")) as up:
            await take(up, 1)
            assert up.transport == "udp"


async def test_auto_falls_back_to_tcp_on_461(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        async with RtspUpstream(settings(server.url, transport="auto")) as up:
            await take(up, 1)
            assert up.transport == "tcp"


async def test_auto_falls_back_to_tcp_when_no_datagram_arrives(h264_loop: EncodedLoop) -> None:
    quirks = RtspQuirks(udp_silent=True)
    async with RtspServer(h264_loop, udp=True, quirks=quirks) as server:
        config = settings(server.url, transport="auto", udp_timeout=0.3)
        async with RtspUpstream(config) as up:
            await take(up, 1)
            assert up.transport == "tcp"
        methods = [m for m, _ in server.requests]
        assert methods.count("PLAY") == 2 and "TEARDOWN" in methods[: methods.index("PLAY", 5)]


async def test_rtsps_with_the_callers_tls_context(h264_loop: EncodedLoop) -> None:
    server_tls, client_tls = tls_pair()
    async with RtspServer(h264_loop, tls=server_tls) as server:
        assert server.url.startswith("rtsps://")
        async with RtspUpstream(settings(server.url, tls=client_tls)) as up:
            assert (await take(up, 1))[0].keyframe


async def test_rtsps_with_an_untrusted_certificate_is_refused(h264_loop: EncodedLoop) -> None:
    server_tls, _ = tls_pair()
    async with RtspServer(h264_loop, tls=server_tls) as server:
        with pytest.raises(CameraUnreachableError, match="TLS"):
            await RtspUpstream(settings(server.url)).start()


def sliced_keyframes(loop: EncodedLoop) -> EncodedLoop:
    """Re-encode with several slices per picture and parameter sets before every slice of
    each keyframe (as some cameras and payloaders send them)."""
    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 320, 240, "yuv420p"
    ctx.time_base = Fraction(1, 90000)
    ctx.framerate = Fraction(30)
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency",
                   "x264-params": "slices=4:keyint=15:min-keyint=15:scenecut=0:bframes=0:"
                                  "repeat-headers=1"}
    codec: Any = av.CodecContext.create("h264", "r")
    frames = [f for p in loop.video for f in codec.decode(av.Packet(p.data))]
    video = []
    for index, frame in enumerate(frames):
        frame.pts = index * 3000
        frame.time_base = Fraction(1, 90000)
        for packet in ctx.encode(frame):
            nals = split_annexb(bytes(packet))
            if packet.is_keyframe:
                params = [n for n in nals if n[0] & 0x1F in (7, 8)]
                slices = [n for n in nals if n[0] & 0x1F == 5]
                assert len(slices) >= 2
                nals = [n for s in slices for n in (*params, s)]
            data = START_CODE + START_CODE.join(nals)
            video.append(MediaPacket(data, packet.pts, packet.dts, Fraction(1, 90000),
                                     packet.is_keyframe, duration=3000))
    return EncodedLoop(replace(loop.info, extradata=None), tuple(video))


async def test_a_keyframe_in_slices_with_parameter_sets_between_is_one_whole_picture(
    h264_loop: EncodedLoop,
) -> None:
    source = sliced_keyframes(h264_loop)
    async with RtspServer(source, speed=4) as server, RtspUpstream(settings(server.url)) as up:
        packets = await take(up, 20)
    keyframe = packets[0]
    assert keyframe.keyframe and [p.pts for p in packets[:3]] == [0, 3000, 6000]
    sent = split_annexb(source.video[0].data)
    assert split_annexb(keyframe.data) == sent  # every slice, with its parameter sets
    assert sum(1 for n in sent if n[0] & 0x1F == 5) >= 2
    codec: Any = av.CodecContext.create("h264", "r")
    (picture,) = codec.decode(av.Packet(keyframe.data))
    assert (picture.width, picture.height) == (320, 240) and not picture.is_corrupt
    assert picture.key_frame
