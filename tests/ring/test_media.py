"""Snapshots (on demand, coalesced, spaced; battery care) and the account's recordings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import av
import pytest

import camsdk
from camsdk import AccessDeniedError, MediaPacket
from camsdk.privacy import DenyByDefault, MemoryAuditSink, PrivacyMask
from camsdk.testing import RingCloud
from camsdk.testing._ring_cloud._state import small_mp4

from .conftest import camera_url
from .test_events import push_ready

pytestmark = pytest.mark.anyio

WAIT = 20.0


# -- snapshots --------------------------------------------------------------------------------


async def test_a_wired_camera_takes_a_fresh_snapshot_on_demand(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        snap = await cam.snapshot()
    assert snap.source == "device" and (snap.width, snap.height) == (160, 120)
    assert abs((datetime.now(UTC) - snap.captured_at).total_seconds()) < 30
    assert cloud.snapshot_requests == 1


async def test_snapshots_asked_for_together_are_one_request(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        snaps = await asyncio.gather(*(cam.snapshot(source="device") for _ in range(10)))
    assert cloud.snapshot_requests == 1 and len({s.jpeg for s in snaps}) == 1


async def test_snapshots_are_spaced_and_a_recent_one_is_reused(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options, snapshot_spacing=60) as cam:
        first = await cam.snapshot(source="device")
        again = await cam.snapshot(source="device")
        with pytest.raises(camsdk.RateLimitedError) as info:
            await cam.snapshot(source="device", max_age=0)  # asks for a new one too soon
    assert again.captured_at == first.captured_at
    assert cloud.snapshot_requests == 1 and info.value.retry_after > 30


async def test_a_sleeping_battery_camera_answers_with_its_last_event_picture(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud, 1), **options) as cam:
            async with cam.events() as events:
                await push_ready(cloud, events, which=1)
            snap = await cam.snapshot()
            with pytest.raises(AccessDeniedError, match="older than max_age"):
                await cam.snapshot(max_age=0)
    ding = cloud.dings[-1]
    assert snap.source == "device" and snap.captured_at.timestamp() == pytest.approx(
        ding.created, abs=0.01)
    assert snap.age >= 0 and cloud.snapshot_requests == 0
    assert cloud.event_picture_requests == 1


async def test_a_sleeping_battery_camera_is_not_woken_without_being_asked(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud, 1), **options) as cam:
        with pytest.raises(AccessDeniedError, match="wake=True") as info:
            await cam.snapshot()
    assert info.value.reason == "asleep" and cloud.snapshot_requests == 0


async def test_waking_a_battery_camera_is_asked_for_and_audited(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    audit = MemoryAuditSink()
    async with camsdk.open(camera_url(cloud, 1), **options, audit=audit) as cam:
        snap = await cam.snapshot(wake=True, purpose="who is at the gate")
    wakes = [r for r in audit.records if r.get("event") == "device.wake"]
    assert snap.source == "device" and cloud.snapshot_requests == 1
    assert len(wakes) == 1 and wakes[0]["principal"] == "owner"
    assert wakes[0]["purpose"] == "who is at the gate"


async def test_a_streaming_battery_camera_refuses_a_snapshot_and_the_stream_gives_one(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud, 1), **options) as cam:
            async with cam.stream() as stream, stream.packets() as it:
                async for item in it:
                    if isinstance(item, MediaPacket):
                        break
                with pytest.raises(camsdk.DeviceError) as info:
                    await cam.snapshot(source="device", wake=True)
                snap = await cam.snapshot(wake=True)
    assert info.value.code == "live_view_running"
    assert snap.source == "stream" and cloud.snapshot_requests == 0


# -- recordings -------------------------------------------------------------------------------


def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=5)


async def test_recordings_lists_the_device_s_events_in_a_window(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    made = [cloud.ding(0, "ding"), cloud.ding(0, "person"), cloud.ding(0, "motion")]
    cloud.ding(1, "motion")  # another camera's
    async with camsdk.open(camera_url(cloud), **options) as cam:
        recs = await cam.recordings(*window())
        later = await cam.recordings(datetime.now(UTC) + timedelta(hours=1),
                                     datetime.now(UTC) + timedelta(hours=2))
    assert [r.id for r in recs] == made and later == []
    assert [r.kind.value for r in recs] == ["doorbell", "person", "motion"]
    assert all(r.duration == 12.0 and r.start.tzinfo is UTC for r in recs)
    assert all(r.camera_id == cam.id and r.end is not None for r in recs)


async def test_a_recording_downloads_to_a_checked_file(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    cloud.ding(0, "motion")
    progress: list[float] = []
    async with camsdk.open(camera_url(cloud), **options) as cam:
        [rec] = await cam.recordings(*window())
        clip = await rec.download(tmp_path / "event.mp4", progress=progress.append)
    assert clip.path == tmp_path / "event.mp4"
    assert clip.video_packets == 10 and clip.bytes == len(small_mp4())
    assert clip.started_at == rec.start and progress[-1] == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["event.mp4"]
    with av.open(str(clip.path)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert sum(1 for p in container.demux(video=0) if p.size) == 10


async def test_a_download_is_remuxed_into_the_container_its_name_asks_for(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    cloud.ding(0, "motion")
    async with camsdk.open(camera_url(cloud), **options) as cam:
        [rec] = await cam.recordings(*window())
        clip = await rec.download(tmp_path / "event.mkv")
    with av.open(str(clip.path)) as container:
        assert container.format.name == "matroska,webm"
        assert container.streams.video[0].codec_context.name == "h264"
    assert clip.video_packets == 10


async def test_listing_and_each_download_are_decided_and_audited(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    cloud.ding(0, "motion")
    audit = MemoryAuditSink()
    async with camsdk.open(camera_url(cloud), **options, audit=audit) as cam:
        [rec] = await cam.recordings(*window(), purpose="insurance claim")
        await rec.download(tmp_path / "a.mp4", purpose="insurance claim")
    access = [r for r in audit.records if r.get("event") == "access"
              and r["action"] == "history"]
    assert [r["allowed"] for r in access] == [True, True]
    assert {r["purpose"] for r in access} == {"insurance claim"}
    [download] = [r for r in audit.records if r.get("event") == "history.download"]
    assert download["recording"] == rec.id
    ends = [r for r in audit.records if r.get("event") == "egress.end"
            and r["action"] == "history"]
    assert ends[-1]["bytes"] == len(small_mp4())


async def test_a_download_is_raw_media_refused_under_masks_without_raw_media(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    cloud.ding(0, "motion")
    masks = [PrivacyMask.rectangle(0.0, 0.0, 0.5, 0.5, "neighbour's window")]
    async with camsdk.open(camera_url(cloud), **options, masks=masks) as cam:
        [rec] = await cam.recordings(*window())
        with pytest.raises(AccessDeniedError, match="raw_media"):
            await rec.download(tmp_path / "masked.mp4")
    assert cloud.downloads == 0 and list(tmp_path.iterdir()) == []


async def test_a_stranger_without_a_grant_lists_nothing(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    cloud.ding(0, "motion")
    async with camsdk.open(camera_url(cloud), **options, principal="stranger",
                           policy=DenyByDefault()) as cam:
        with pytest.raises(AccessDeniedError):
            await cam.recordings(*window())
    assert not [p for _, p in cloud.requests if "video_search" in p]


async def test_a_download_that_is_not_media_leaves_no_file(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    cloud.ding(0, "motion")
    cloud.recording_body = b"<html><body>AccessDenied</body></html>"
    async with camsdk.open(camera_url(cloud), **options) as cam:
        [rec] = await cam.recordings(*window())
        with pytest.raises(camsdk.CameraProtocolError, match="not media"):
            await rec.download(tmp_path / "bad.mp4")
    assert list(tmp_path.iterdir()) == []


async def test_times_must_be_timezone_aware_and_ordered(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        with pytest.raises(camsdk.ConfigurationError, match="timezone-aware"):
            await cam.recordings(datetime(2024, 1, 1), datetime(2024, 1, 2))
        start, end = window()
        with pytest.raises(camsdk.ConfigurationError, match="after start"):
            await cam.recordings(end, start)


async def test_a_camera_that_keeps_no_recordings_says_so() -> None:
    async with camsdk.open("virtual://nohistory?size=160x120") as cam:
        with pytest.raises(camsdk.UnsupportedCapabilityError):
            await cam.recordings(*window())


async def test_a_ring_camera_yields_nothing_to_a_stranger_under_deny_all(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    from tests.privacy.test_public_api_walk import Walk, assert_clean, walk_all

    cloud.ding(0, "motion")
    audit = MemoryAuditSink()
    walk = Walk(tmp_path, audit)
    async with camsdk.open(camera_url(cloud), **options, principal="stranger",
                           policy=DenyByDefault(), audit=audit) as cam:
        await walk_all(walk, "cam", cam)
    assert_clean(walk)
    assert "cam.recordings" in walk.reached
    assert cloud.live_sessions == [] and cloud.snapshot_requests == 0 and cloud.downloads == 0


async def test_a_recording_not_listed_by_a_camera_cannot_be_downloaded(tmp_path: Path) -> None:
    rec = camsdk.DeviceRecording(id="1", start=datetime.now(UTC))
    with pytest.raises(camsdk.ConfigurationError, match=r"Camera\.recordings"):
        await rec.download(tmp_path / "x.mp4")


async def test_a_recording_of_a_closed_camera_cannot_be_downloaded(
    cloud: RingCloud, options: dict[str, Any], tmp_path: Path
) -> None:
    cloud.ding(0, "motion")
    async with camsdk.open(camera_url(cloud), **options) as cam:
        [rec] = await cam.recordings(*window())
    with pytest.raises(camsdk.CameraClosedError):
        await rec.download(tmp_path / "late.mp4")
    assert cloud.downloads == 0
