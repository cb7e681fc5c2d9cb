"""record(transcode=True): the way to record when privacy masks apply."""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import pytest

import camsdk
from camsdk.privacy import PrivacyMask

pytestmark = pytest.mark.anyio

LEFT_HALF = PrivacyMask(points=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)])


async def test_masked_camera_refuses_a_raw_recording(tmp_path: Path) -> None:
    async with camsdk.open("virtual://tc-raw?size=160x120&fps=30&gop=15", masks=[LEFT_HALF]) as cam:
        with pytest.raises(camsdk.AccessDeniedError, match="raw"):
            await cam.record(tmp_path / "raw.mp4", 0.5)
    assert not (tmp_path / "raw.mp4").exists()


async def test_transcoded_recording_carries_the_mask(tmp_path: Path) -> None:
    target = tmp_path / "masked.mp4"
    async with camsdk.open("virtual://tc?size=160x120&fps=30&gop=15", masks=[LEFT_HALF]) as cam:
        with anyio.fail_after(20):
            rec = await cam.record(target, 0.5, transcode=True)
    assert rec.video_packets >= 10 and rec.audio_packets == 0
    with av.open(str(target)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == rec.video_packets
    for frame in frames:
        assert frame[:, :76].max() <= 24  # masked: black up to coding noise
        assert frame[:, 84:].mean() > 30  # the rest of the scene is still there


async def test_transcode_with_pre_roll_is_a_configuration_error(tmp_path: Path) -> None:
    async with camsdk.open("virtual://tc-pre?size=160x120&fps=30&gop=15") as cam:
        with pytest.raises(camsdk.ConfigurationError, match="pre_roll"):
            await cam.record(tmp_path / "x.mp4", 1.0, pre_roll=1.0, transcode=True)
