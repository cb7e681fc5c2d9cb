"""Continuous segments: contiguous on the camera's timeline, keyframe-first, one egress each.

A recorder is one more packet consumer of the camera's shared stream. It cuts
a segment at the first keyframe at or after the segment length; that keyframe
starts the next segment, and the segment before ends exactly there.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import anyio
import av
import pytest

import camsdk
from camsdk import AccessDeniedError, Action, ConfigurationError
from camsdk.drivers.virtual import virtual_device
from camsdk.privacy import MemoryAuditSink, PrivacyMask

from ._helpers import WAIT, WallClock, open_camera, read_track, segment_files

pytestmark = pytest.mark.anyio


async def record_segments(name: str, root: Path, count: int, **kwargs: object) -> list[
    camsdk.Segment
]:
    with anyio.fail_after(WAIT):
        async with open_camera(name, "audio=1") as cam:
            async with cam.recorder(root, segment=0.5, **kwargs) as recorder:
                await recorder.wait_for(segments=count)
            return recorder.segments


async def test_consecutive_segments_meet_exactly_on_the_camera_timeline(tmp_path: Path) -> None:
    segments = await record_segments("seg-contiguous", tmp_path, 4)
    assert len(segments) >= 4
    for before, after in itertools.pairwise(segments):
        assert not after.after_gap
        assert before.end_pts == after.start_pts
        assert before.end == after.start
        # The files say the same as the index: each lasts until the next begins.
        track = read_track(before.path)
        assert track.first_pts == 0
        span = (before.end_pts - before.start_pts) * before.time_base
        assert track.end_pts * track.time_base == span


async def test_segments_are_cut_at_the_first_keyframe_after_the_length(tmp_path: Path) -> None:
    segments = await record_segments("seg-length", tmp_path, 3)
    full = [s for s in segments if s.ended == "length"]
    assert len(full) >= 2
    # GOP 15 at 30 fps: keyframes every 0.5 s, so a 0.5 s segment is one GOP.
    assert {round(s.duration, 6) for s in full} == {0.5}
    assert {read_track(s.path).packets for s in full} == {15}


async def test_every_segment_starts_on_a_keyframe_and_names_sort_by_time(tmp_path: Path) -> None:
    segments = await record_segments("seg-names", tmp_path, 3)
    files = segment_files(segments[0].path.parent.parent)
    assert files == [s.path for s in segments]
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    for seg in segments:
        assert read_track(seg.path).first_is_keyframe
        assert seg.bytes == seg.path.stat().st_size
        assert seg.path.name == f"{seg.start:%Y%m%dT%H%M%S.%fZ}.mp4"
        assert seg.path.parent.name == f"{seg.start:%Y-%m-%d}"


async def test_file_names_carry_the_recorders_utc_clock(tmp_path: Path) -> None:
    clock = WallClock()
    segments = await record_segments("seg-clock", tmp_path, 1, clock=clock)
    first = segments[0]
    assert first.path.name.startswith("20240601T1200")
    assert first.path.parent.name == "2024-06-01"


async def test_every_segment_decodes_on_its_own(tmp_path: Path) -> None:
    segments = await record_segments("seg-decodes", tmp_path, 2)
    for seg in segments:
        with av.open(str(seg.path)) as container:
            frames = list(container.decode(video=0))
            assert all(not f.is_corrupt for f in frames)
            assert (frames[0].width, frames[0].height) == (160, 120)
            assert container.streams.audio[0].channels == 1
        assert len(frames) == seg.video_packets


async def test_segments_carry_the_audio_track_unless_told_not_to(tmp_path: Path) -> None:
    with_audio = await record_segments("seg-audio", tmp_path / "a", 2)
    without = await record_segments("seg-noaudio", tmp_path / "b", 2, audio=False)
    assert all(s.audio_packets > 0 for s in with_audio if s.ended == "length")
    assert all(read_track(s.path).audio_packets > 0 for s in with_audio if s.ended == "length")
    assert all(s.audio_packets == 0 and read_track(s.path).audio_packets == 0 for s in without)


async def test_the_recorder_shares_the_cameras_one_upstream(tmp_path: Path) -> None:
    device = virtual_device("seg-shared")
    with anyio.fail_after(WAIT):
        async with open_camera("seg-shared") as cam, cam.stream() as stream:
            async with stream.packets() as packets:
                await packets.__anext__()
                async with cam.recorder(tmp_path, segment=0.5) as recorder:
                    await recorder.wait_for(segments=2)
                await packets.__anext__()
    assert device.streams_opened == 1


async def test_each_segment_is_one_audited_record_egress(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with open_camera("seg-audit", audit=sink) as cam:
            async with cam.recorder(tmp_path, segment=0.5, purpose="nvr") as recorder:
                await recorder.wait_for(segments=3)
    segments = recorder.segments
    records = [r for r in sink.records if r.get("action") == Action.RECORD.value]
    grants = [r for r in records if r["event"] == "access"]
    ends = [r for r in records if r["event"] == "egress.end"]
    assert len(grants) == len(ends) == len(segments)
    assert all(r["allowed"] and r["purpose"] == "nvr" for r in grants)
    assert [e["packets"] for e in ends] == [s.video_packets for s in segments]
    assert [e["bytes"] for e in ends] == [s.bytes for s in segments]


async def test_under_privacy_masks_without_raw_media_the_recorder_is_refused(
    tmp_path: Path,
) -> None:
    sink = MemoryAuditSink()
    device = virtual_device("seg-masked")
    mask = PrivacyMask.rectangle(0.0, 0.0, 0.5, 0.5)
    with anyio.fail_after(WAIT):
        async with open_camera("seg-masked", audit=sink, masks=[mask]) as cam:
            with pytest.raises(AccessDeniedError) as info:
                async with cam.recorder(tmp_path / "footage"):
                    pass
    assert info.value.reason == "masks require raw_media"
    [denial] = [r for r in sink.records if r.get("action") == Action.RECORD.value]
    assert denial["event"] == "access" and not denial["allowed"]
    assert device.streams_opened == 0
    assert not (tmp_path / "footage").exists()


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"segment": 0}, "between"),
        ({"segment": "60"}, "number of seconds"),
        ({"retention": {"max_bytes": -1}}, "invalid retention"),
        ({"clips": {"before": -1}}, "invalid clips"),
        ({"clips": "person"}, "camsdk.EventClips"),
    ],
)
async def test_bad_arguments_are_configuration_errors_before_any_io(
    tmp_path: Path, kwargs: dict[str, object], problem: str
) -> None:
    device = virtual_device("seg-bad-args")
    async with open_camera("seg-bad-args") as cam:
        with pytest.raises(ConfigurationError, match=problem):
            cam.recorder(tmp_path / "footage", **kwargs)
    assert device.streams_opened == 0
    assert not (tmp_path / "footage").exists()


async def test_a_clock_without_a_timezone_is_refused_before_any_media(tmp_path: Path) -> None:
    device = virtual_device("seg-naive-clock")
    async with open_camera("seg-naive-clock") as cam:
        with pytest.raises(ConfigurationError, match="timezone-aware"):
            async with cam.recorder(tmp_path / "footage", clock=lambda: datetime(2024, 6, 1)):
                pass
    assert device.streams_opened == 0
    assert not (tmp_path / "footage").exists()


async def test_hevc_segments_are_tagged_hvc1(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("seg-hevc", "codec=hevc") as cam:
            async with cam.recorder(tmp_path, segment=0.5) as recorder:
                await recorder.wait_for(segments=1)
    with av.open(str(recorder.segments[0].path)) as clip:
        assert clip.streams.video[0].codec_context.codec_tag == "hvc1"


async def test_g711_audio_reaches_segments_as_aac(tmp_path: Path) -> None:
    # The doorbell-style G.711 source of tests/test_record_audio.py, as a live camera.
    from tests.test_record_audio import G711Source, MulawCamera

    class LiveG711(G711Source):
        live = True
        finite = False

    class LiveMulawCamera(MulawCamera):
        schemes = ("pcmu-live",)

        async def open_stream(self, profile: str) -> G711Source:
            return LiveG711("pcm_mulaw")

    camsdk.register_driver("pcmu-live", LiveMulawCamera)
    with anyio.fail_after(WAIT):
        async with camsdk.open("pcmu-live://seg-g711") as cam:
            async with cam.recorder(tmp_path, segment=0.5) as recorder:
                await recorder.wait_for(segments=1)
    with av.open(str(recorder.segments[0].path)) as clip:
        assert {s.type: s.codec_context.name for s in clip.streams} == {
            "video": "h264", "audio": "aac"}
