"""Recording keeps the camera's audio even when the container cannot hold its codec.

G.711 (PCMU/PCMA, what most cameras' and doorbells' microphones send) is not
allowed in MP4; the recording carries it as AAC instead of failing or
silently losing it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import anyio
import av
import pytest

import camsdk
from camsdk import MediaPacket
from camsdk.driver import StreamInfo
from camsdk.drivers.virtual import VirtualDriver
from camsdk.testing import generate_source

pytestmark = pytest.mark.anyio

LOOP = generate_source(width=64, height=48, fps=15, gop=15, seconds=4.0)
G711 = Fraction(1, 8000)


def _tone(codec: str, samples: int) -> bytes:
    """``samples`` of a quiet 400 Hz tone encoded by FFmpeg as ``codec``."""
    import math

    import numpy as np

    pcm = (np.sin(np.arange(samples) * 2 * math.pi * 400 / 8000) * 3000).astype("<i2")
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 8000
    encoder = av.CodecContext.create(codec, "w")
    encoder.sample_rate = 8000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.open()
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


class G711Source:
    """A camera's loop with G.711 audio in 20 ms packets, read at the consumer's pace."""

    live = False
    finite = True

    def __init__(self, codec: str) -> None:
        self.info: StreamInfo = dataclasses.replace(
            LOOP.info, audio_codec=codec, audio_sample_rate=8000, audio_channels=1,
            audio_time_base=G711,
        )
        self._audio = _tone(codec, 8000 * 4)

    async def __aiter__(self) -> AsyncIterator[MediaPacket]:
        audio_at = 0
        for packet in LOOP.video:
            seconds = (packet.pts or 0) * packet.time_base
            while audio_at < len(self._audio) and audio_at / 8000 <= seconds:
                chunk = self._audio[audio_at : audio_at + 160]
                yield MediaPacket(chunk, audio_at, audio_at, G711, True, "audio")
                audio_at += 160
            yield packet
        raise camsdk.StreamEndedError("end of the loop")

    async def aclose(self) -> None:
        return None


class MulawCamera(VirtualDriver):
    schemes: ClassVar[tuple[str, ...]] = ("pcmu",)
    audio_codec: ClassVar[str] = "pcm_mulaw"

    async def open_stream(self, profile: str) -> G711Source:
        return G711Source(self.audio_codec)


class AlawCamera(MulawCamera):
    schemes: ClassVar[tuple[str, ...]] = ("pcma",)
    audio_codec: ClassVar[str] = "pcm_alaw"


@pytest.mark.parametrize("driver", [MulawCamera, AlawCamera])
async def test_g711_audio_is_recorded_as_aac_in_mp4(
    tmp_path: Path, driver: type[MulawCamera]
) -> None:
    scheme = driver.schemes[0]
    camsdk.register_driver(scheme, driver)
    target = tmp_path / "clip.mp4"
    with anyio.fail_after(30):
        async with camsdk.open(f"{scheme}://door") as cam:
            clip_info = await cam.record(target, duration=3.0)
    assert clip_info.audio == "transcoded to aac" and clip_info.audio_packets > 0
    with av.open(str(target)) as clip:
        kinds = {s.type: s.codec_context.name for s in clip.streams}
        assert kinds == {"video": "h264", "audio": "aac"}
        audio = clip.streams.audio[0]
        samples = sum(frame.samples for frame in clip.decode(audio))
    # About three seconds of the tone came through (AAC adds a frame of priming).
    assert 2.5 * 8000 <= samples <= 3.6 * 8000


async def test_aac_audio_is_copied_untouched(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with camsdk.open("virtual://cam?size=160x120&audio=1") as cam:
            clip = await cam.record(tmp_path / "clip.mp4", duration=1.0)
    assert clip.audio == "copied" and clip.audio_packets > 0
