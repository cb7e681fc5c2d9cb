"""The rtsp:// camera on camsdk's own RTSP client, through the facade.

Redirects are followed only to the caller's host, for camsdk's client and,
through a pre-flight DESCRIBE, for FFmpeg's (``client=ffmpeg``); nothing is
ever sent to another host. Two-way audio goes out on the ONVIF backchannel
behind ``cam.talk()``, encoded from PCM by the facade and audited. No thread
serves an RTSP stream.
"""

from __future__ import annotations

import math
import threading
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

import anyio
import av
import numpy as np
import pytest

import camsdk
from camsdk import Capability, Credentials, MediaPacket, RedirectRefusedError
from camsdk.privacy import MemoryAuditSink
from camsdk.testing import EncodedLoop, HttpDevice, RtspServer, wait_until

from ._helpers import FAST, take_packets

pytestmark = pytest.mark.anyio

USER, PASSWORD = "viewer", "transport-Pw1"


@pytest.mark.parametrize("client", ["camsdk", "ffmpeg"])
@pytest.mark.parametrize("where", ["another host", "another port"])
async def test_a_redirect_elsewhere_is_refused_and_nothing_reaches_it(
    h264_loop: EncodedLoop, client: str, where: str
) -> None:
    # A listener on another loopback address stands for "another host".
    host = "127.0.0.2" if where == "another host" else "127.0.0.1"
    async with HttpDevice(host=host) as elsewhere, RtspServer(
        h264_loop, username=USER, password=PASSWORD
    ) as server:
        target = f"rtsp://{host}:{elsewhere.port}/stream"
        server.redirect(urlsplit(server.url).path, target)
        cam = camsdk.open(server.url, credentials=Credentials(USER, PASSWORD), client=client,
                          config=FAST, probe=False)
        async with cam:
            with anyio.fail_after(10), pytest.raises(RedirectRefusedError) as info:
                async with cam.stream():
                    pass
        assert f"{host}:{elsewhere.port}" in info.value.location
        assert PASSWORD not in str(info.value)
        assert elsewhere.connections == 0 and list(elsewhere.requests) == []


@pytest.mark.parametrize("client", ["camsdk", "ffmpeg"])
async def test_a_redirect_on_the_same_host_and_port_is_followed(
    h264_loop: EncodedLoop, client: str
) -> None:
    async with RtspServer(h264_loop) as server:
        server.redirect("/old", server.url)
        old = server.url.rsplit("/", 1)[0] + "/old"
        async with camsdk.open(old, client=client, config=FAST, probe=False) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                got = await take_packets(packets, 5)
    assert got[0].keyframe


async def test_no_thread_serves_an_rtsp_stream(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        before = {t.ident for t in threading.enumerate()}
        async with camsdk.open(server.url, config=FAST) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                await take_packets(packets, 10)
                started = {t.name for t in threading.enumerate() if t.ident not in before}
    assert not [name for name in started if name.startswith("camsdk-")]


async def test_packets_carry_the_cameras_wall_clock_after_a_sender_report(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop, speed=4.0) as server:
        async with camsdk.open(server.url, config=FAST) as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                stamped: list[MediaPacket] = []
                with anyio.fail_after(15):
                    async for item in packets:
                        if isinstance(item, MediaPacket) and item.wallclock is not None:
                            stamped.append(item)
                            if len(stamped) >= 5:
                                break
    assert all(b.wallclock >= a.wallclock for a, b in pairwise(stamped))


def _tone(seconds: float, rate: int = 8000) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * math.pi * 440 * t) * 12000).astype("<i2")


def _decode_mulaw(data: bytes) -> np.ndarray[Any, Any]:
    codec = av.CodecContext.create("pcm_mulaw", "r")
    codec.sample_rate, codec.layout = 8000, "mono"
    frames = codec.decode(av.Packet(data))
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames])


async def test_talk_sends_encoded_audio_on_the_backchannel_and_is_audited(
    h264_loop: EncodedLoop,
) -> None:
    audit = MemoryAuditSink()
    async with RtspServer(h264_loop, backchannel="pcm_mulaw", speed=4.0) as server:
        async with camsdk.open(server.url, backchannel=True, audit=audit, config=FAST) as cam:
            assert cam.supports(Capability.TWO_WAY_AUDIO)
            assert cam.info.extra["backchannel"] == "pcm_mulaw"
            tone = _tone(1.0)
            with anyio.fail_after(15):
                async with cam.talk(purpose="answer the door") as speaker:
                    assert (speaker.format.codec, speaker.format.sample_rate) == (
                        "pcm_mulaw", 8000)
                    await speaker.send(tone.tobytes())
                    await wait_until(lambda: len(server.received_audio) >= 7600)
        received = bytes(server.received_audio)
    decoded = _decode_mulaw(received[: len(tone)]).astype(float)
    # µ-law is lossy: the tone comes back, strongly correlated with what was sent.
    sent = tone[: len(decoded)].astype(float)
    assert np.corrcoef(sent, decoded)[0, 1] > 0.99
    talks = [r for r in audit.records if r.get("action") == "talk"]
    assert [r.get("allowed", True) for r in talks if r["event"] == "access"] == [True]
    ends = [r for r in talks if r["event"] == "egress.end"]
    assert ends and ends[0]["bytes"] >= 7600


async def test_without_a_backchannel_talk_is_unsupported(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        async with camsdk.open(server.url, backchannel=True, config=FAST) as cam:
            assert not cam.supports(Capability.TWO_WAY_AUDIO)
            with pytest.raises(camsdk.UnsupportedCapabilityError):
                cam.talk()
