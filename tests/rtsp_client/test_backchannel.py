"""ONVIF audio backchannel: what is sent arrives as sent; devices without one say so."""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import Any

import av
import pytest

from camsdk._errors import CameraClosedError, UnsupportedCapabilityError
from camsdk._rtsp import open_backchannel
from camsdk._rtsp._backchannel import RtspBackchannel
from camsdk._rtsp._sdp import MediaDescription
from camsdk._talk import AudioFormat
from camsdk.testing import EncodedLoop, RtspServer

from ._helpers import settings

pytestmark = pytest.mark.anyio

USER, PASSWORD = "admin", "s3cret-Pa55"


def mulaw_second() -> bytes:
    """One second of a 440 Hz tone, 8 kHz mono, encoded to G.711 µ-law by FFmpeg."""
    ctx: Any = av.CodecContext.create("pcm_mulaw", "w")
    ctx.sample_rate, ctx.format, ctx.layout = 8000, "s16", "mono"
    ctx.time_base = Fraction(1, 8000)
    ctx.open()
    samples = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                       for i in range(8000))
    frame = av.AudioFrame(format="s16", layout="mono", samples=8000)
    frame.sample_rate = 8000
    frame.planes[0].update(samples)
    frame.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_alaw"])
async def test_a_second_of_audio_arrives_in_order(h264_loop: EncodedLoop, codec: str) -> None:
    audio = mulaw_second()
    assert len(audio) == 8000
    async with RtspServer(h264_loop, backchannel=codec,  # type: ignore[arg-type]
                          username=USER, password=PASSWORD) as server:
        channel = await open_backchannel(settings(server.url, username=USER, password=PASSWORD))
        assert channel.format == AudioFormat(codec, 8000, 1)
        for offset in range(0, len(audio), 160):  # 20 ms packets
            await channel.send(audio[offset : offset + 160], 160)
        await channel.aclose()  # TEARDOWN answered: everything before it was read
        assert server.received_audio == audio
        assert server.received_audio_packets == 50
        setups = [r for r in server.request_log if r.method in ("DESCRIBE", "SETUP", "PLAY")]
        assert all(r.headers.get("require") == "www.onvif.org/ver20/backchannel"
                   for r in setups)
    with pytest.raises(CameraClosedError):
        await channel.send(b"\xff" * 160, 160)
    await channel.aclose()


async def test_a_large_packet_is_split_at_the_mtu(h264_loop: EncodedLoop) -> None:
    audio = bytes(range(256)) * 12
    async with RtspServer(h264_loop, backchannel="pcm_alaw") as server:
        channel = await open_backchannel(settings(server.url))
        await channel.send(audio, len(audio))
        await channel.aclose()
        assert server.received_audio == audio and server.received_audio_packets == 3


async def test_a_device_without_a_backchannel_answers_551(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        with pytest.raises(UnsupportedCapabilityError, match="backchannel") as info:
            await open_backchannel(settings(server.url))
        assert info.value.url == server.url
        assert server.requests[-1][0] == "DESCRIBE"


class _Wire:
    """Stands in for the RTSP connection: records what is written."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None


class _Session:
    def __init__(self) -> None:
        self.connection = _Wire()


def _rtp_frames(data: bytes) -> list[tuple[bool, int, int, bytes]]:
    out = []
    while data:
        assert data[0:1] == b"$"
        size = int.from_bytes(data[2:4], "big")
        packet, data = data[4 : 4 + size], data[4 + size :]
        seq, ts = struct.unpack("!HI", packet[2:8])
        out.append((bool(packet[1] & 0x80), seq, ts, packet[12:]))
    return out


async def test_aac_gets_an_au_header_and_timestamps_advance_by_the_samples() -> None:
    media = MediaDescription("audio", 96, "mpeg4-generic", 16000, 1,
                             fmtp={"sizelength": "13", "indexlength": "3"})
    session: Any = _Session()
    channel = RtspBackchannel(session, media, AudioFormat("aac", 16000, 1), 4)
    await channel.send(b"\x21" * 300, 1024)
    await channel.send(b"\x22" * 3000, 1024)  # larger than the MTU: fragmented
    frames = _rtp_frames(session.connection.data)
    assert [f[0] for f in frames] == [True, False, False, True]
    assert [f[2] - frames[0][2] for f in frames] == [0, 1024, 1024, 1024]
    assert [f[1] - frames[0][1] for f in frames] == [0, 1, 2, 3]
    assert frames[0][3][:4] == struct.pack("!HH", 16, 300 << 3)
    assert b"".join(f[3][4:] for f in frames[1:]) == b"\x22" * 3000
    assert all(f[3][:4] == struct.pack("!HH", 16, 3000 << 3) for f in frames[1:])
