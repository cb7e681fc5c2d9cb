"""Retention: old footage goes by age and by total size, audited; nothing else is touched.

Retention runs when a recorder starts on a directory and after every
segment. It deletes only files its index lists (oldest first), writes each
deletion to the audit log before the file goes, and never deletes the newest
segment for size.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio
import pytest

import camsdk
from camsdk.privacy import MemoryAuditSink

from ._helpers import T0, WAIT, WallClock, open_camera, segment_files

pytestmark = pytest.mark.anyio


async def test_a_recorder_started_later_deletes_footage_older_than_max_age(
    tmp_path: Path,
) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("ret-age") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clock=WallClock(T0)) as first:
                await first.wait_for(segments=2)
            old = first.segments
            week = camsdk.Retention(max_age=timedelta(days=7))
            later = WallClock(T0 + timedelta(days=8))
            async with cam.recorder(tmp_path, segment=0.5, clock=later, retention=week) as second:
                await second.wait_for(segments=1)
                left = await second.index.find(None, None)
    assert all(not seg.path.exists() for seg in old)
    assert left and all(seg.start > T0 + timedelta(days=7) for seg in left)
    assert second.stats.deleted == len(old)


async def test_retention_runs_after_each_segment(tmp_path: Path) -> None:
    clock = WallClock(T0)
    hour = camsdk.Retention(max_age=timedelta(hours=1))
    with anyio.fail_after(WAIT):
        async with open_camera("ret-each") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clock=clock, retention=hour) as rec:
                await rec.wait_for(segments=2)
                before_jump = rec.segments
                clock.jump(timedelta(hours=2))
                await rec.wait_for(segments=rec.stats.segments + 2)
                old = await rec.index.find(None, T0 + timedelta(hours=1))
    assert before_jump and all(not seg.path.exists() for seg in before_jump)
    assert old == []
    assert rec.stats.deleted >= len(before_jump)


async def test_retention_by_size_keeps_the_newest_footage_under_max_bytes(tmp_path: Path) -> None:
    limit = 150_000  # about two half-second segments at 160x120
    with anyio.fail_after(WAIT):
        async with open_camera("ret-size") as cam:
            retention = camsdk.Retention(max_bytes=limit)
            async with cam.recorder(tmp_path, segment=0.5, retention=retention) as rec:
                await rec.wait_for(segments=6)
            kept = await rec.index.find(None, None)
    assert 1 <= len(kept) < 6
    assert sum(seg.bytes for seg in kept) <= limit
    # What is left is the newest footage, and exactly what is on disk.
    assert kept == rec.segments[-len(kept):]
    assert segment_files(rec.directory) == [seg.path for seg in kept]


async def test_the_newest_segment_is_kept_even_when_it_alone_exceeds_max_bytes(
    tmp_path: Path,
) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("ret-tiny") as cam:
            retention = camsdk.Retention(max_bytes=1)
            async with cam.recorder(tmp_path, segment=0.5, retention=retention) as rec:
                await rec.wait_for(segments=3)
            kept = await rec.index.find(None, None)
    assert kept == rec.segments[-1:]
    assert kept[0].path.exists()


async def test_each_deletion_is_audited_before_the_file_goes(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with open_camera("ret-audit", audit=sink) as cam:
            retention = camsdk.Retention(max_bytes=1)
            async with cam.recorder(tmp_path, segment=0.5, retention=retention) as rec:
                await rec.wait_for(segments=3)
    deleted = [r for r in sink.records if r.get("event") == "recording.deleted"]
    assert len(deleted) == rec.stats.deleted >= 2
    for record in deleted:
        assert record["reason"] == "size" and record["bytes"] > 0
        assert record["principal"] == "owner"
        assert not (rec.directory / record["path"]).exists()


async def test_files_the_recorder_did_not_write_are_never_deleted(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("ret-foreign") as cam:
            retention = camsdk.Retention(max_age=timedelta(seconds=1), max_bytes=1)
            recorder = cam.recorder(tmp_path, segment=0.5, clock=WallClock(T0),
                                    retention=retention)
            day = recorder.directory / "2024-06-01"
            day.mkdir(parents=True)
            # Foreign files, one even named like a segment of long ago.
            planted = [
                day / "20240601T110000.000000Z.mp4",
                day / "notes.txt",
                recorder.directory / "README",
                tmp_path / "other.mp4",
            ]
            for path in planted:
                path.write_bytes(b"not the recorder's")
            async with recorder:
                await recorder.wait_for(segments=4)
    assert all(path.read_bytes() == b"not the recorder's" for path in planted)
    assert recorder.stats.deleted >= 3
