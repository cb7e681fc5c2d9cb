"""`WebRtcUpstream` against the loopback answerer: what arrives, keyframes, audio, clocks."""

from __future__ import annotations

import time
from fractions import Fraction
from itertools import pairwise

import av
import pytest

from camsdk import MediaPacket
from camsdk._webrtc._h264 import NAL_PPS, NAL_SPS, nal_type, split_annexb
from camsdk._webrtc._receive import opus_samples

from .conftest import LONG_GOP, Connect

pytestmark = pytest.mark.anyio


async def take(upstream: object, count: int, kind: str | None = None) -> list[MediaPacket]:
    """The next ``count`` packets (of ``kind``); every loop here is bounded by the count."""
    out: list[MediaPacket] = []
    async for packet in upstream:  # type: ignore[attr-defined]
        if kind is None or packet.kind == kind:
            out.append(packet)
            if len(out) == count:
                break
    return out


async def test_start_reports_the_stream_from_its_sps(connect: Connect) -> None:
    _, upstream, _ = await connect()
    info = upstream.info
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 15.0)
    assert info.time_base == Fraction(1, 90_000)
    assert [nal_type(u) for u in split_annexb(info.extradata or b"")] == [NAL_SPS, NAL_PPS]
    assert upstream.live and not upstream.finite


async def test_packets_are_the_access_units_the_answerer_sent_starting_on_a_keyframe(
    connect: Connect,
) -> None:
    _, upstream, peer = await connect()
    packets = await take(upstream, 20)
    assert packets[0].keyframe and packets[0].kind == "video"
    assert all(p.data.startswith(b"\x00\x00\x00\x01") for p in packets)
    # The answerer's first frame is the one with pts 0; ours count from it too.
    sent = {s.pts: s for s in peer.sent}
    for packet in packets:
        original = sent[packet.pts]
        assert split_annexb(packet.data) == split_annexb(original.data)
        assert packet.keyframe == original.keyframe


async def test_timestamps_are_the_rtp_clock_and_increase(connect: Connect) -> None:
    _, upstream, _ = await connect()
    packets = await take(upstream, 15)
    stamps = [p.pts for p in packets]
    assert [b - a for a, b in pairwise(stamps)] == [6000] * 14  # 90 kHz at 15 fps
    assert all(p.dts == p.pts for p in packets)


async def test_received_access_units_decode_with_pyav(connect: Connect) -> None:
    _, upstream, _ = await connect()
    packets = await take(upstream, 10)
    decoder = av.CodecContext.create("h264", "r")
    frames = []
    for packet in packets:
        frames.extend(decoder.decode(av.Packet(packet.data)))
    frames.extend(decoder.decode(None))
    assert len(frames) == 10
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert not any(f.is_corrupt for f in frames)


async def test_a_pli_makes_the_answerer_send_a_keyframe_at_once(connect: Connect) -> None:
    # One keyframe per 10 s: any keyframe among the next frames was asked for.
    _, upstream, peer = await connect(params=LONG_GOP)
    await take(upstream, 3)
    assert await upstream.request_keyframe()
    packets = await take(upstream, 10)
    assert any(p.keyframe for p in packets)
    assert peer.keyframe_requests == 1 and peer.forced_keyframes == 1


async def test_requests_close_together_send_one_pli(connect: Connect) -> None:
    session, upstream, _peer = await connect(params=LONG_GOP, session={"pli_interval": 30})
    assert await upstream.request_keyframe()
    assert not await upstream.request_keyframe()
    assert session.plis == 1


async def test_keyframes_without_parameter_sets_get_the_cached_ones(connect: Connect) -> None:
    # The answerer sends SPS/PPS with its first keyframe only, like some cameras;
    # a consumer joining at a later keyframe must still be able to decode it.
    session, upstream, peer = await connect(params=LONG_GOP, parameter_sets="first")
    await take(upstream, 2)
    await upstream.request_keyframe()
    later = next(p for p in await take(upstream, 10) if p.keyframe)
    sent = {s.pts: s for s in peer.sent}[later.pts]
    assert NAL_SPS not in [nal_type(u) for u in split_annexb(sent.data)]
    units = split_annexb(later.data)
    assert [nal_type(u) for u in units[:2]] == [NAL_SPS, NAL_PPS]
    assert units[2:] == split_annexb(sent.data)
    decoder = av.CodecContext.create("h264", "r")  # no extradata: a true late joiner
    frames = list(decoder.decode(av.Packet(later.data))) + list(decoder.decode(None))
    assert len(frames) == 1 and not frames[0].is_corrupt
    assert session.video is not None and session.video.injected == 1


async def test_opus_audio_arrives_in_its_48k_clock(connect: Connect) -> None:
    _, upstream, _ = await connect(audio="opus", offer={"audio": "recvonly"})
    info = upstream.info
    assert (info.audio_codec, info.audio_sample_rate) == ("opus", 48_000)
    assert info.audio_time_base == Fraction(1, 48_000)
    audio = await take(upstream, 10, "audio")
    assert all(p.duration == 960 == opus_samples(p.data) for p in audio)
    assert [b.pts - a.pts for a, b in pairwise(audio)] == [960] * 9  # type: ignore[operator]


async def test_pcmu_audio_arrives_byte_for_byte(connect: Connect) -> None:
    _, upstream, _ = await connect(audio="pcmu", offer={"audio": "recvonly"})
    info = upstream.info
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == (
        "pcm_mulaw", 8000, 1)
    audio = await take(upstream, 10, "audio")
    assert all(len(p.data) == 160 == p.duration for p in audio)
    assert [b.pts - a.pts for a, b in pairwise(audio)] == [160] * 9  # type: ignore[operator]


async def test_audio_can_be_left_out(connect: Connect) -> None:
    _, upstream, _ = await connect(
        audio="pcmu", offer={"audio": "recvonly"}, upstream={"audio": False}
    )
    assert upstream.info.audio_codec is None
    assert {p.kind for p in await take(upstream, 20)} == {"video"}


async def test_wallclock_comes_from_the_senders_rtcp_reports(connect: Connect) -> None:
    _, upstream, _ = await connect()
    # aiortc sends a sender report every 0.5 to 1.5 s: 60 frames (4 s) hold a few.
    first = None
    stamped: list[MediaPacket] = []
    async for packet in upstream:
        first = first or packet
        if packet.wallclock is not None:
            stamped.append(packet)
        if len(stamped) == 8 or packet.pts >= 60 * 6000:  # type: ignore[operator]
            break
    assert first is not None and first.wallclock is None
    assert len(stamped) == 8
    now = time.time()
    assert all(now - 5 < p.wallclock < now + 1 for p in stamped)  # type: ignore[operator]
    gaps = [b.wallclock - a.wallclock for a, b in pairwise(stamped)]  # type: ignore[operator]
    # The RTP clock, not arrival times; a new report may move the mapping by a few ms.
    assert all(abs(gap - 1 / 15) < 0.02 for gap in gaps)
