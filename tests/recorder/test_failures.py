"""When things go wrong: reconnects are gaps, stopping finishes the segment, errors end it.

A reconnect ends the current segment and the index records the gap; leaving
the block or being cancelled finishes the current segment (never a half file
under a final name); a removed directory, a full disk, a revoked grant or a
stream that fails for good stop the recorder with a typed error, raised from
the ``async with`` exit, without hanging.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import AccessDeniedError, Action, AuthenticationError, RecordingError
from camsdk._recorder._files import MediaFile
from camsdk.drivers.virtual import virtual_device
from camsdk.privacy import Grant, GrantPolicy, MemoryAuditSink, RevocationList
from camsdk.testing import wait_until

from ._helpers import QUICK_RECONNECT, WAIT, cam_url, open_camera, read_track

pytestmark = pytest.mark.anyio


def leftovers(root: Path) -> list[Path]:
    """Temporary files: none may survive a recorder."""
    return [p for p in root.rglob("*") if p.name.endswith(".part")]


async def test_a_reconnect_ends_the_segment_and_the_index_records_the_gap(
    tmp_path: Path,
) -> None:
    device = virtual_device("fail-reconnect")
    with anyio.fail_after(WAIT):
        async with open_camera("fail-reconnect", config=QUICK_RECONNECT) as cam:
            async with cam.recorder(tmp_path, segment=0.5) as rec:
                await rec.wait_for(segments=2)
                device.inject_fault("drop_after:0")
                # The segment the drop ended, then two more after the reconnect.
                await rec.wait_for(segments=rec.stats.segments + 3)
            gaps = await rec.index.gaps(None, None)
    segments = rec.segments
    [cut] = [i for i, seg in enumerate(segments) if seg.ended == "gap"]
    ended, resumed = segments[cut], segments[cut + 1]
    [gap] = gaps
    assert gap.reason == "reconnect"
    assert gap.start == ended.end and gap.end == resumed.start
    assert resumed.after_gap and read_track(resumed.path).first_is_keyframe
    assert rec.stats.gaps == 1 and device.streams_opened == 2
    # Recording resumed, contiguous again.
    for before, after in itertools.pairwise(segments[cut + 1:]):
        assert before.end_pts == after.start_pts and before.end == after.start


async def test_leaving_the_block_finishes_the_current_segment(tmp_path: Path) -> None:
    device = virtual_device("fail-leave")
    with anyio.fail_after(WAIT):
        async with open_camera("fail-leave") as cam:
            async with cam.recorder(tmp_path, segment=60.0) as rec:
                await wait_until(lambda: device.packets_sent >= 20)
            indexed = await rec.index.find(None, None)
    [segment] = rec.segments
    assert segment.ended == "stop" and indexed == [segment]
    assert read_track(segment.path).packets == segment.video_packets >= 1
    assert leftovers(tmp_path) == []


async def cancel_with_asyncio(cam: camsdk.Camera, body: Callable[[], Awaitable[Any]]) -> None:
    task = asyncio.get_running_loop().create_task(body())
    device = virtual_device(cam.id.removeprefix("virtual:"))
    await wait_until(lambda: device.packets_sent >= 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def cancel_with_anyio(cam: camsdk.Camera, body: Callable[[], Awaitable[Any]]) -> None:
    device = virtual_device(cam.id.removeprefix("virtual:"))
    async with anyio.create_task_group() as group:
        group.start_soon(body)
        await wait_until(lambda: device.packets_sent >= 20)
        group.cancel_scope.cancel()


@pytest.mark.parametrize("cancel", [cancel_with_asyncio, cancel_with_anyio])
async def test_cancelling_the_recording_task_finishes_the_current_segment(
    tmp_path: Path, cancel: Callable[[camsdk.Camera, Callable[[], Awaitable[Any]]], Awaitable[None]]
) -> None:
    recorders: list[camsdk.Recorder] = []

    async def record(cam: camsdk.Camera) -> None:
        async with cam.recorder(tmp_path, segment=60.0) as rec:
            recorders.append(rec)
            await anyio.Event().wait()  # until cancelled

    with anyio.fail_after(WAIT):
        async with open_camera(f"fail-cancel-{cancel.__name__[11:]}") as cam:
            await cancel(cam, lambda: record(cam))
            indexed = await recorders[0].index.find(None, None)
    [segment] = recorders[0].segments
    assert segment.ended == "stop" and indexed == [segment]
    assert read_track(segment.path).packets == segment.video_packets
    assert leftovers(tmp_path) == []


async def test_a_directory_removed_mid_recording_is_a_recording_error(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("fail-rmdir") as cam:
            with pytest.raises(RecordingError, match=r"removed|gone"):
                async with cam.recorder(tmp_path / "footage", segment=0.5) as rec:
                    await rec.wait_for(segments=1)
                    shutil.rmtree(rec.directory)
                    await rec.wait()
            assert not rec.running
            # The camera is unharmed: it still streams.
            async with cam.stream() as stream, stream.packets() as packets:
                assert isinstance(await packets.__anext__(), camsdk.MediaPacket)
    assert not rec.directory.exists()


async def test_a_full_disk_is_a_recording_error_and_finished_segments_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with anyio.fail_after(WAIT):
        async with open_camera("fail-full") as cam:
            with pytest.raises(RecordingError, match="No space left on device"):
                async with cam.recorder(tmp_path, segment=0.5) as rec:
                    await rec.wait_for(segments=2)
                    monkeypatch.setattr(MediaFile, "_mux_video", no_space)
                    await rec.wait()
            indexed = await rec.index.find(None, None)
    assert len(indexed) >= 2 and indexed == rec.segments
    assert all(read_track(seg.path).packets == seg.video_packets for seg in indexed)
    assert leftovers(tmp_path) == []


async def test_a_revoked_grant_stops_the_recorder_and_ends_its_segment_cleanly(
    tmp_path: Path,
) -> None:
    grant = Grant(principal="neighbour", cameras={"virtual:fail-revoke"}, actions={Action.RECORD},
                  purpose="nvr", expires_at=datetime.now(UTC) + timedelta(hours=1))
    revocations = RevocationList()
    sink = MemoryAuditSink()
    policy = GrantPolicy([grant], revocations=revocations)
    with anyio.fail_after(WAIT):
        async with camsdk.open(cam_url("fail-revoke"), principal="neighbour", policy=policy,
                               audit=sink) as cam:
            with pytest.raises(AccessDeniedError, match="revoked or has expired"):
                async with cam.recorder(tmp_path, segment=0.5, purpose="nvr") as rec:
                    await rec.wait_for(segments=1)
                    revocations.revoke(grant.grant_id)
                    await rec.wait()
    last = rec.segments[-1]
    assert last.ended == "revoked"
    assert read_track(last.path).packets == last.video_packets
    records = [r for r in sink.records if r.get("action") == Action.RECORD.value]
    allowed = [r for r in records if r["event"] == "access" and r["allowed"]]
    ends = [r for r in records if r["event"] == "egress.end"]
    assert len(allowed) == len(ends) == len(rec.segments)


async def test_a_stream_that_fails_for_good_ends_the_recorder_with_its_error(
    tmp_path: Path,
) -> None:
    device = virtual_device("fail-auth")
    with anyio.fail_after(WAIT):
        async with open_camera("fail-auth") as cam:
            with pytest.raises(AuthenticationError):
                async with cam.recorder(tmp_path, segment=0.5) as rec:
                    await rec.wait_for(segments=1)
                    device.inject_fault("auth")
                    await rec.wait()
    assert rec.segments[-1].ended == "error"
    assert leftovers(tmp_path) == []
