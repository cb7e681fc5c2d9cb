"""A WebRTC camera through the facade: packets, recording, snapshots, frames and talk.

The ``webrtc-test://`` driver (``_loopback.py``) does what a cloud driver
does with its vendor's API, against the loopback answerer.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import camsdk
from camsdk import Discontinuity, MediaPacket
from camsdk._talk import AudioEncoder, AudioFormat
from camsdk._webrtc import _aiortc

from ._loopback import ANSWERERS

pytestmark = pytest.mark.anyio


class DecoderCalls:
    """Counts every decoder that could run: aiortc's, camsdk's shared and one-shot ones."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import aiortc.codecs.g711
        import aiortc.codecs.h264
        import aiortc.codecs.opus

        import camsdk._pipeline._codec as codec
        import camsdk._pipeline._decoder as decoder

        self.counts = {"aiortc": 0, "camsdk": 0, "pass-through": 0}

        def counting(name: str, real: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                self.counts[name] += 1
                return real(*args, **kwargs)

            return call

        for cls in (aiortc.codecs.h264.H264Decoder, aiortc.codecs.opus.OpusDecoder,
                    aiortc.codecs.g711.PcmDecoder):
            monkeypatch.setattr(cls, "decode", counting("aiortc", cls.decode))
        monkeypatch.setattr(codec, "new_decoder", counting("camsdk", codec.new_decoder))
        monkeypatch.setattr(decoder, "new_decoder", counting("camsdk", decoder.new_decoder))
        passthrough = _aiortc.PassThroughDecoder
        monkeypatch.setattr(passthrough, "decode", counting("pass-through", passthrough.decode))


async def test_only_packets_consumed_means_no_decoder_runs(
    loopback_driver: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = DecoderCalls(monkeypatch)
    async with camsdk.open("webrtc-test://cam?audio=pcmu") as cam:
        async with cam.stream() as stream:
            packets: list[MediaPacket] = []
            async for item in stream.packets():
                if isinstance(item, MediaPacket):
                    packets.append(item)
                if len(packets) == 30:
                    break
    assert {p.kind for p in packets} == {"video", "audio"}
    assert calls.counts["aiortc"] == 0 and calls.counts["camsdk"] == 0
    assert calls.counts["pass-through"] >= 30  # the frames did go through aiortc's receiver


async def test_stream_info_and_packets_match_rtsp_conventions(loopback_driver: object) -> None:
    async with camsdk.open("webrtc-test://cam") as cam:
        async with cam.stream() as stream:
            info = stream.info
            first = None
            async for item in stream.packets():
                if not isinstance(item, Discontinuity):
                    first = item
                    break
    assert (info.codec, info.width, info.height) == ("h264", 320, 240)
    assert first is not None and first.keyframe and first.data.startswith(b"\x00\x00\x00\x01")


async def test_a_recording_is_a_playable_mp4_without_transcoding(
    loopback_driver: object, tmp_path: Path
) -> None:
    target = tmp_path / "clip.mp4"
    async with camsdk.open("webrtc-test://cam?audio=opus") as cam:
        recording = await cam.record(target, duration=1.0)
    assert recording.path == target
    with av.open(str(target)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        assert container.streams.audio[0].codec_context.name == "opus"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 14  # 1 s at 15 fps


async def test_a_snapshot_comes_from_the_stream_keyframe(loopback_driver: object) -> None:
    async with camsdk.open("webrtc-test://cam") as cam:
        snap = await cam.snapshot()
    assert (snap.width, snap.height, snap.source) == (320, 240, "stream")
    assert snap.jpeg.startswith(b"\xff\xd8")


async def test_frames_are_decoded_when_a_consumer_asks(loopback_driver: object) -> None:
    async with camsdk.open("webrtc-test://cam") as cam:
        async with cam.stream() as stream:
            async for frame in stream.frames(format="rgb24"):
                if isinstance(frame, Discontinuity):
                    continue
                assert frame.to_ndarray().shape == (240, 320, 3)
                break


async def test_one_second_of_pcmu_spoken_is_what_the_answerer_recorded(
    loopback_driver: object,
) -> None:
    t = np.arange(8000) / 8000
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    async with camsdk.open("webrtc-test://cam") as cam:
        async with cam.talk() as speaker:
            assert speaker.format.codec == "pcm_mulaw"
            await speaker.send(pcm, sample_rate=8000)
            sent_packets, sent_bytes = speaker.packets, speaker.bytes
            peer = ANSWERERS[-1]
            await peer.wait_audio(sent_packets)
    assert (sent_packets, sent_bytes) == (50, 8000)
    assert len(peer.received_audio) == 50 and peer.received_audio_bytes == 8000
    expected = AudioEncoder(AudioFormat("pcm_mulaw")).encode(pcm, 8000, 1)
    assert b"".join(peer.received_audio) == b"".join(packet for packet, _ in expected)
    stamps = peer.received_audio_timestamps
    assert [b - a for a, b in itertools.pairwise(stamps)] == [160] * 49
