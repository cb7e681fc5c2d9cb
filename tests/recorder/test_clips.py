"""Event clips: from ``before`` seconds before an event to ``after`` seconds after its end.

The recorder keeps the last ``before`` seconds plus a GOP of packets, so a
clip starts on the keyframe at or before ``start - before``; it ends at the
first frame at or after ``end + after``. The index keeps the event with its
clip.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio
import pytest

import camsdk
from camsdk import Action, EventKind
from camsdk.drivers.virtual import virtual_device
from camsdk.privacy import MemoryAuditSink

from ._helpers import WAIT, open_camera, read_track

pytestmark = pytest.mark.anyio

GOP = timedelta(seconds=0.5)
FRAME = timedelta(seconds=1 / 30)


async def test_an_event_clip_covers_before_its_start_to_after_its_end(tmp_path: Path) -> None:
    device = virtual_device("clip-span")
    clips = camsdk.EventClips(kinds={EventKind.PERSON}, before=1.0, after=0.5)
    with anyio.fail_after(WAIT):
        async with open_camera("clip-span") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clips=clips) as rec:
                await rec.wait_for(segments=3)  # enough history for `before`
                device.inject_event(EventKind.PERSON)
                await rec.wait_for(segments=rec.stats.segments + 2)
                device.inject_event(EventKind.PERSON, active=False)
                await rec.wait_for(clips=1)
            [event] = await rec.index.events(None, None)
    assert event.kind is EventKind.PERSON and event.end is not None
    assert event.clip is not None and event.clip_start and event.clip_end
    wanted_start = event.start - timedelta(seconds=1.0)
    assert wanted_start - GOP < event.clip_start <= wanted_start
    wanted_end = event.end + timedelta(seconds=0.5)
    assert wanted_end <= event.clip_end < wanted_end + FRAME
    track = read_track(event.clip)
    assert track.first_is_keyframe
    assert track.seconds == pytest.approx((event.clip_end - event.clip_start).total_seconds(),
                                          abs=2e-6)
    assert event.clip_bytes == event.clip.stat().st_size


async def test_an_event_that_arrives_already_ended_is_a_moment(tmp_path: Path) -> None:
    device = virtual_device("clip-moment")
    clips = camsdk.EventClips(kinds={EventKind.DOORBELL}, before=0.5, after=0.5)
    with anyio.fail_after(WAIT):
        async with open_camera("clip-moment") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clips=clips) as rec:
                await rec.wait_for(segments=2)
                device.inject_event(EventKind.DOORBELL, active=False)
                await rec.wait_for(clips=1)
            [event] = await rec.index.events(None, None)
    assert event.end == event.start
    assert event.clip_start is not None and event.clip_end is not None
    assert event.start - timedelta(seconds=0.5) - GOP < event.clip_start
    assert event.clip_start <= event.start - timedelta(seconds=0.5)
    assert event.start + timedelta(seconds=0.5) <= event.clip_end < event.start + GOP + FRAME


async def test_an_event_that_never_ends_is_cut_at_max_length(tmp_path: Path) -> None:
    device = virtual_device("clip-endless")
    clips = camsdk.EventClips(kinds={EventKind.PERSON}, before=0.0, after=0.2, max_length=0.5)
    with anyio.fail_after(WAIT):
        async with open_camera("clip-endless") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clips=clips) as rec:
                await rec.wait_for(segments=1)
                device.inject_event(EventKind.PERSON)
                await rec.wait_for(clips=1)
            [event] = await rec.index.events(None, None)
    assert event.end is None and event.clip_end is not None
    cut = event.start + timedelta(seconds=0.7)
    assert cut <= event.clip_end < cut + FRAME


async def test_only_events_of_the_chosen_kinds_are_recorded(tmp_path: Path) -> None:
    device = virtual_device("clip-kinds")
    clips = camsdk.EventClips(kinds={EventKind.PERSON}, before=0.0, after=0.1)
    with anyio.fail_after(WAIT):
        async with open_camera("clip-kinds") as cam:
            async with cam.recorder(tmp_path, segment=0.5, clips=clips) as rec:
                await rec.wait_for(segments=1)
                device.inject_event(EventKind.MOTION, active=False)
                device.inject_event(EventKind.PERSON, active=False)
                await rec.wait_for(clips=1)
            everything = await rec.index.events(None, None)
            motion = await rec.index.events(None, None, kinds={EventKind.MOTION})
    assert [e.kind for e in everything] == [EventKind.PERSON]
    assert motion == []
    assert rec.stats.clips == 1


async def test_each_clip_is_an_audited_record_egress_too(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    device = virtual_device("clip-audit")
    clips = camsdk.EventClips(kinds={EventKind.PERSON}, before=0.0, after=0.1)
    with anyio.fail_after(WAIT):
        async with open_camera("clip-audit", audit=sink) as cam:
            async with cam.recorder(tmp_path, segment=0.5, clips=clips) as rec:
                await rec.wait_for(segments=1)
                device.inject_event(EventKind.PERSON, active=False)
                await rec.wait_for(clips=1)
    ends = [r for r in sink.records
            if r.get("event") == "egress.end" and r.get("action") == Action.RECORD.value]
    assert len(ends) == rec.stats.segments + rec.stats.clips
    assert sum(r["bytes"] for r in ends) == rec.stats.bytes
