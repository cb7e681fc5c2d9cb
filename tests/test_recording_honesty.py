"""`record()` says what it did: honest pre-roll, exact times, partial clips kept, HEVC as hvc1.

A pre-roll asked for grows the camera's buffer so it can be met from then on;
when it could not be met (nothing was buffered yet) the `Recording` says how
much there was and a warning is logged. ``started_at`` is the first picture's
time, not the call's. A recording cut short (cancelled, Ctrl-C) is finished,
playable, under its name.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import av
import pytest

import camsdk

pytestmark = pytest.mark.anyio

FAST = "size=160x120&fps=30&gop=15"
WAIT = 20.0


def duration_of(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.pts is not None]
    span = max(p.pts for p in packets) - min(p.pts for p in packets)
    return float(span * stream.time_base)


async def test_a_pre_roll_nothing_buffered_for_is_reported_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="camsdk")
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://pre1?{FAST}") as cam:
            clip = await cam.record(tmp_path / "a.mp4", duration=0.5, pre_roll=2.0)
    assert clip.pre_roll_requested == 2.0
    assert clip.pre_roll < 2.0
    assert any("pre-roll of 2.000 s asked" in r.getMessage() for r in caplog.records)


async def test_a_pre_roll_asked_once_is_buffered_for_the_next_recording(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://pre2?{FAST}") as cam:
            await cam.record(tmp_path / "first.mp4", duration=0.2, pre_roll=1.0)
            async with cam.stream() as stream, stream.packets() as packets:
                # Let the grown buffer fill with a little more than the pre-roll.
                async for item in packets:
                    if isinstance(item, camsdk.MediaPacket) and (item.time or 0) > 1.6:
                        break
                clip = await cam.record(tmp_path / "second.mp4", duration=0.5, pre_roll=1.0)
    assert clip.pre_roll >= 1.0
    assert duration_of(clip.path) >= 1.4


async def test_times_are_exact_and_start_at_the_first_picture(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://times?{FAST}") as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                async for item in packets:
                    if isinstance(item, camsdk.MediaPacket) and (item.time or 0) > 1.2:
                        break
                called = datetime.now(UTC)
                clip = await cam.record(tmp_path / "t.mp4", duration=0.5, pre_roll=0.5)
    assert clip.started_at < called  # the pre-roll's first picture came before the call
    assert (called - clip.started_at).total_seconds() < 3.0
    for value in (clip.duration, clip.pre_roll, clip.pre_roll_requested):
        assert value == round(value, 6)


async def test_a_cancelled_recording_leaves_a_playable_partial_clip(tmp_path: Path) -> None:
    target = tmp_path / "cut.mp4"
    seen = anyio.Event()

    def on_progress(fraction: float) -> None:
        if fraction > 0.05:
            seen.set()

    async with camsdk.open(f"virtual://cut?{FAST}") as cam:
        task = asyncio.ensure_future(cam.record(target, duration=30, progress=on_progress))
        with anyio.fail_after(WAIT):
            await seen.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert target.exists()
    assert duration_of(target) > 0.5
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


async def test_hevc_clips_are_tagged_hvc1_and_print_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://hvc1?{FAST}&codec=hevc") as cam:
            clip = await cam.record(tmp_path / "h.mp4", duration=0.5)
    with av.open(str(clip.path)) as container:
        assert container.streams.video[0].codec_tag == "hvc1"
    out, err = capfd.readouterr()
    assert "x265" not in out + err


def test_ctrl_c_during_camsdk_record_keeps_the_partial_clip(tmp_path: Path) -> None:
    target = tmp_path / "cli.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "camsdk", "record", f"virtual://cli-cut?{FAST}",
         "-o", str(target), "--duration", "8"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        # Off a terminal the progress bar prints every quarter: 25 % means recording.
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("recording ["), line
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130
    assert "partial clip" in err
    assert target.exists() and duration_of(target) > 0


def parameter_sets(annexb: bytes, codec: str) -> list[bytes]:
    """The SPS/PPS (and HEVC VPS) NAL units of one Annex-B access unit."""
    wanted = {7, 8} if codec == "h264" else {32, 33, 34}
    units = [u.lstrip(b"\x00") for u in annexb.split(b"\x00\x00\x01")]
    found = []
    for unit in (u.rstrip(b"\x00") for u in units if u):
        kind = unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F
        if kind in wanted:
            found.append(unit)
    return found


@pytest.mark.parametrize("codec", ["h264", "hevc"])
async def test_a_clip_carries_the_cameras_own_parameter_sets(tmp_path: Path, codec: str) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://ps?{FAST}&codec={codec}") as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                async for item in packets:
                    if isinstance(item, camsdk.MediaPacket) and item.keyframe:
                        camera_sets = parameter_sets(item.data, codec)
                        break
                clip = await cam.record(tmp_path / "c.mp4", duration=0.5)
    assert len(camera_sets) == (2 if codec == "h264" else 3)
    with av.open(str(clip.path)) as container:
        extradata = bytes(container.streams.video[0].codec_context.extradata or b"")
    assert all(unit in extradata for unit in camera_sets)
