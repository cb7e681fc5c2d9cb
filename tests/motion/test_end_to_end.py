"""Software motion on `virtual://` cameras as integrators meet it: events via `cam.events()`.

The still scene has sensor noise and real compression artefacts and nothing
moving; the scripted motion is a bright square crossing the left half
("drive") during part of every loop. Deadlines are generous bounds, not
measurements (the benchmark measures).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from camsdk import CameraClosedError, EventKind
from camsdk.drivers.virtual import virtual_device
from camsdk.testing import wait_until

from ._virtual import MOVING, STILL, WAIT, ZONES, collected, next_event, open_camera

pytestmark = pytest.mark.anyio

MOTION = {EventKind.MOTION}


def motion_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("camsdk-motion")]


async def test_scripted_motion_reaches_event_subscribers_labelled_and_in_its_zone() -> None:
    async with open_camera("mo-labelled", MOVING) as cam:
        async with cam.events(kinds=MOTION) as events:
            async with cam.motion(zones=ZONES, fps=5.0, hold=1.0):
                start = await next_event(events, active=True)
                end = await next_event(events, active=False)
    assert start.kind is EventKind.MOTION
    assert start.zone == "drive"
    assert start.vendor == "camsdk"
    assert start.extra["detector"] == "software"
    assert start.score is not None and 0.0 < start.score <= 1.0
    assert start.camera_id == "virtual:mo-labelled"
    assert (end.event_id, end.zone) == (start.event_id, "drive")


async def test_the_zone_without_motion_raises_no_event() -> None:
    async with open_camera("mo-lawn", MOVING) as cam:
        async with cam.events(kinds=MOTION) as events, collected(events) as seen:
            async with cam.motion(zones=ZONES, fps=5.0, hold=1.0):
                # A whole activity of the drive: the square came and went.
                await wait_until(lambda: any(not e.active for e in seen), timeout=WAIT)
    assert {e.zone for e in seen} == {"drive"}


async def test_keyframes_only_detects_the_scripted_motion() -> None:
    async with open_camera("mo-keyframes", MOVING) as cam:
        async with cam.events(kinds=MOTION) as events:
            async with cam.motion(zones=ZONES, keyframes_only=True) as detector:
                start = await next_event(events, active=True)
                stats = detector.stats
    assert start.zone == "drive"
    assert stats.frames >= 2


async def test_the_first_event_follows_the_scripted_motion_within_a_generous_deadline() -> None:
    device = virtual_device("mo-delay")
    async with open_camera("mo-delay", MOVING) as cam:
        async with cam.events(kinds=MOTION) as events, collected(events) as seen:
            async with cam.motion(zones=ZONES, fps=5.0, hold=1.0):
                await wait_until(lambda: bool(device.motion_onsets), timeout=WAIT)
                # The square is on screen for 2 s: seen then, or not at all.
                await wait_until(lambda: any(e.active for e in seen), timeout=WAIT / 2)
                onset_age = time.monotonic() - device.motion_onsets[0]
                onset_wall = datetime.now(UTC) - timedelta(seconds=onset_age)
    first = next(e for e in seen if e.active)
    assert first.started_at >= onset_wall - timedelta(milliseconds=50)  # rounding of the clocks


async def test_a_still_scene_with_sensor_noise_raises_no_motion() -> None:
    async with open_camera("mo-still", STILL) as cam:
        async with cam.events(kinds=MOTION) as events, collected(events) as seen:
            async with cam.motion(fps=5.0) as detector:  # the whole picture, default sensitivity
                await wait_until(lambda: detector.stats.frames >= 20, timeout=WAIT)
                stats = detector.stats
    assert seen == []
    assert stats.events == 0
    assert stats.noise > 0.0  # the sensor noise was there to be measured


async def test_closing_the_detector_ends_the_activity_in_progress() -> None:
    async with open_camera("mo-close", MOVING) as cam:
        async with cam.events(kinds=MOTION) as events:
            async with cam.motion(zones=ZONES, fps=5.0, hold=600.0):
                start = await next_event(events, active=True)
            end = await next_event(events, active=False)
    assert end.event_id == start.event_id
    assert end.extra["ended_by"] == "stopped"


async def test_nothing_runs_once_the_detector_is_closed() -> None:
    device = virtual_device("mo-idle")
    async with open_camera("mo-idle", STILL) as cam:
        async with cam.motion(fps=5.0) as detector:
            await wait_until(lambda: detector.stats.frames >= 2, timeout=WAIT)
            assert detector.running
            assert device.streams_open == 1
        assert not detector.running
        assert detector.stats.state == "closed"
        assert not motion_threads()
        await wait_until(lambda: device.streams_open == 0, timeout=WAIT)


async def test_closing_the_camera_stops_a_detector_left_running() -> None:
    cam = open_camera("mo-camera-closed", STILL)
    async with cam:
        detector = cam.motion(fps=5.0)
        await detector.start()
        await wait_until(lambda: detector.stats.frames >= 1, timeout=WAIT)
    await wait_until(lambda: not detector.running, timeout=WAIT)
    await wait_until(lambda: not motion_threads(), timeout=WAIT)
    await detector.aclose()
    assert detector.error is None


async def test_the_detector_opens_no_stream_until_it_is_started() -> None:
    device = virtual_device("mo-lazy")
    async with open_camera("mo-lazy", STILL) as cam:
        detector = cam.motion()
        assert detector.stats.state == "new"
        assert device.streams_opened == 0


async def test_a_detector_runs_once() -> None:
    async with open_camera("mo-once", STILL) as cam:
        detector = cam.motion(fps=5.0)
        async with detector:
            with pytest.raises(CameraClosedError):
                await detector.start()
        with pytest.raises(CameraClosedError):
            await detector.start()


async def test_the_detector_analyses_the_smallest_profile_by_default() -> None:
    async with open_camera("mo-profile", STILL) as cam:
        async with cam.motion(fps=5.0) as detector:
            assert detector.profile == "sub"
