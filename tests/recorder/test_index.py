"""The index: SQLite in the camera's directory; finds footage by time and events by kind.

It survives restarts (a recorder on an existing directory resumes it), can be
opened without a recorder, and answers in a worker thread.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest

import camsdk
from camsdk import ConfigurationError, EventKind
from camsdk.drivers.virtual import virtual_device

from ._helpers import T0, WAIT, WallClock, open_camera

pytestmark = pytest.mark.anyio


async def test_the_index_survives_reopening(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("idx-reopen") as cam:
            async with cam.recorder(tmp_path, segment=0.5) as first:
                await first.wait_for(segments=2)
        async with open_camera("idx-reopen") as cam:
            async with cam.recorder(tmp_path, segment=0.5) as second:
                await second.wait_for(segments=2)
            found = await second.index.find(None, None)
    assert second.directory == first.directory
    assert found == first.segments + second.segments
    assert second.segments[0].after_gap


async def test_find_returns_the_segments_that_overlap_a_time_range(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("idx-find") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clock=WallClock(T0)) as rec:
                await rec.wait_for(segments=4)
                segs = rec.segments[:4]
                tick = timedelta(microseconds=1)
                middle = await rec.index.find(segs[1].start + tick, segs[2].end - tick)
                exact = await rec.index.find(segs[1].start, segs[2].end)
                before = await rec.index.find(T0 - timedelta(days=1), T0 - timedelta(hours=1))
    assert middle == segs[1:3]
    assert exact == segs[1:3]  # [start, end): touching a boundary is not overlapping
    assert before == []


async def test_events_are_found_by_time_and_kind(tmp_path: Path) -> None:
    device = virtual_device("idx-events")
    clips = camsdk.EventClips(kinds={EventKind.PERSON, EventKind.VEHICLE}, before=0.0, after=0.1)
    with anyio.fail_after(WAIT):
        async with open_camera("idx-events") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clips=clips) as rec:
                await rec.wait_for(segments=1)
                device.inject_event(EventKind.PERSON, active=False)
                await rec.wait_for(clips=1)
                device.inject_event(EventKind.VEHICLE, active=False)
                await rec.wait_for(clips=2)
            index = rec.index
            person, vehicle = await index.events(None, None)
            people = await index.events(None, None, kinds={EventKind.PERSON})
            later = await index.events(vehicle.start, None)
            earlier = await index.events(None, vehicle.start)
    assert (person.kind, vehicle.kind) == (EventKind.PERSON, EventKind.VEHICLE)
    assert people == [person]
    assert later == [vehicle]
    assert earlier == [person]
    assert person.clip is not None and person.clip.exists()


async def test_an_index_can_be_read_without_a_recorder(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("idx-alone") as cam:
            async with cam.recorder(tmp_path, segment=0.5) as rec:
                await rec.wait_for(segments=2)
        index = camsdk.RecordingIndex(rec.directory)
        try:
            found = await index.find(None, None)
        finally:
            await index.aclose()
    assert found == rec.segments


async def test_times_without_a_timezone_are_refused(tmp_path: Path) -> None:
    index = camsdk.RecordingIndex(tmp_path)
    with pytest.raises(ConfigurationError, match="timezone"):
        await index.find(datetime(2024, 6, 1), None)


async def test_a_second_recorder_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with anyio.fail_after(WAIT):
        async with open_camera("idx-twice") as cam:
            async with cam.recorder(tmp_path, segment=0.5) as rec:
                with pytest.raises(ConfigurationError, match="already being recorded"):
                    async with cam.recorder(tmp_path, segment=0.5):
                        pass
                await rec.wait_for(segments=1)
