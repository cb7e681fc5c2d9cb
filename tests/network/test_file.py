"""The file:// driver: real-time replay, looping, ending, holding back, refusing the network."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import anyio
import pytest

import camsdk
from camsdk import Capability, Discontinuity, MediaPacket, OverflowPolicy

from ._helpers import take_packets

pytestmark = pytest.mark.anyio


def _url(path: Path, query: str = "") -> str:
    return f"file://{path}" + (f"?{query}" if query else "")


async def test_connect_reports_the_file_tracks(media_file: Path) -> None:
    async with camsdk.open(_url(media_file)) as cam:
        profile = cam.info.profiles[0]
        assert (profile.name, profile.codec, profile.width, profile.height) == (
            "main", "h264", 320, 240)
        assert profile.audio_codec == "aac"
        assert Capability.AUDIO in cam.capabilities


async def test_replay_is_paced_in_real_time(media_file: Path) -> None:
    async with camsdk.open(_url(media_file)) as cam:
        async with cam.stream() as stream, stream.packets(audio=False) as packets:
            got = await take_packets(packets, 31)
    span = got[-1].received_at - got[0].received_at
    assert 0.8 <= span <= 1.6  # 30 frame intervals at 30 fps


async def test_a_file_ends_and_iterators_stop(media_file: Path) -> None:
    async with camsdk.open(_url(media_file, "realtime=0")) as cam:
        async with cam.stream() as stream, stream.packets(audio=False) as packets:
            video = []
            with anyio.fail_after(10):
                async for item in packets:
                    if isinstance(item, MediaPacket):
                        video.append(item)
    assert len(video) == 60  # 2 s at 30 fps, every packet, then the end


async def test_fast_replay_holds_back_for_a_slow_consumer(media_file: Path) -> None:
    async with camsdk.open(_url(media_file, "realtime=0")) as cam:
        async with cam.stream() as stream:
            packets = stream.packets(audio=False, queue_size=4, overflow=OverflowPolicy.BLOCK)
            count = 0
            with anyio.fail_after(10):
                async with packets:
                    async for item in packets:
                        assert not isinstance(item, Discontinuity)
                        count += 1
                        await anyio.sleep(0)  # a consumer slower than the file
            assert packets.dropped == 0
    assert count == 60


async def test_looping_keeps_timestamps_increasing_without_markers(media_file: Path) -> None:
    async with camsdk.open(_url(media_file, "loop=1&realtime=0")) as cam:
        async with cam.stream() as stream, stream.packets(audio=True) as packets:
            items = []
            with anyio.fail_after(10):
                async for item in packets:
                    items.append(item)
                    if len(items) >= 400:
                        break
    assert not any(isinstance(i, Discontinuity) for i in items)
    for kind in ("video", "audio"):
        dts = [p.dts for p in items if isinstance(p, MediaPacket) and p.kind == kind]
        assert len(dts) > 100
        assert all(b > a for a, b in pairwise(dts))  # type: ignore[operator]


async def test_snapshot_from_a_file(media_file: Path) -> None:
    async with camsdk.open(_url(media_file)) as cam:
        with anyio.fail_after(5):
            snap = await cam.snapshot()
    assert (snap.width, snap.height, snap.source) == (320, 240, "stream")


async def test_missing_file_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(camsdk.CameraUnreachableError, match="does not exist"):
        await camsdk.open(_url(tmp_path / "nope.mp4")).connect()


async def test_a_file_that_is_not_media_is_a_protocol_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(camsdk.CameraProtocolError):
        await camsdk.open(_url(path)).connect()


def test_file_urls_name_local_paths_only() -> None:
    with pytest.raises(camsdk.ConfigurationError, match="local path"):
        camsdk.open("file://somehost/clip.mp4")
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.open("file:///clip.mp4?speed=2")


async def test_a_local_playlist_cannot_reach_the_network(tmp_path: Path) -> None:
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n"
                        "http://127.0.0.1:9/segment.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(camsdk.CameraProtocolError):
        await camsdk.open(_url(playlist)).connect()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_g711_audio_is_passed_through(tmp_path: Path) -> None:
    path = tmp_path / "g711.mkv"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
         "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-bf", "0",
         "-c:a", "pcm_mulaw", "-ac", "1", str(path)],
        check=True, timeout=60,
    )
    async with camsdk.open(_url(path, "realtime=0")) as cam:
        async with cam.stream() as stream, stream.packets(audio=True) as packets:
            assert stream.info.audio_codec == "pcm_mulaw"
            got = await take_packets(packets, 40)
    assert any(p.kind == "audio" for p in got)
