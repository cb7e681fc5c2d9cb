"""Nest snapshots: event images and clip previews (source=event_image, with their age), else
the stream's keyframe; never a placeholder."""

from __future__ import annotations

import io
from typing import Any

import anyio
import av
import pytest

import camsdk
from camsdk import EventKind
from camsdk.testing import NestCloud

from .test_events import ACTIVITIES, next_event

pytestmark = pytest.mark.anyio


def decodes(jpeg: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(jpeg), "r") as container:
        frame = next(container.decode(video=0))
    return frame.width, frame.height


async def test_an_event_image_is_the_snapshot_right_after_the_event(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        cloud.start_event("Garage", "person")
        event = await next_event(events)
        with anyio.fail_after(10):
            snap = await cam.snapshot(source="device")
            again = await cam.snapshot(source="device")
    assert snap.source == "event_image"
    assert snap.captured_at == event.started_at and 0 <= snap.age < 10
    assert decodes(snap.jpeg) == (snap.width, snap.height)
    assert again is snap  # made once per event
    assert cloud.commands["GenerateImage"] == 1 and cloud.downloads == 1


async def test_a_clip_preview_becomes_a_snapshot_of_its_first_frame(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Doorbell"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        thread = cloud.ring("Doorbell")
        await next_event(events)
        cloud.end_event(thread)
        await next_event(events)
        with anyio.fail_after(10):
            snap = await cam.snapshot(source="device")
    assert snap.source == "event_image"
    assert (snap.width, snap.height) == (320, 240) == decodes(snap.jpeg)
    assert cloud.downloads == 1


async def test_without_a_recent_event_the_snapshot_comes_from_the_stream(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam:
        with anyio.fail_after(20):
            snap = await cam.snapshot()
    assert snap.source == "stream"
    assert cloud.commands["GenerateImage"] == 0


async def test_asking_for_the_devices_picture_without_one_is_a_typed_refusal(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam:
        with pytest.raises(camsdk.UnsupportedCapabilityError, match="no event image"):
            await cam.snapshot(source="device")
    assert cloud.commands["GenerateWebRtcStream"] == 0


async def test_an_event_image_older_than_max_age_is_not_used(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        cloud.start_event("Garage", "motion")
        await next_event(events)
        with pytest.raises(camsdk.UnsupportedCapabilityError):
            await cam.snapshot(source="device", max_age=0)
    assert cloud.commands["GenerateImage"] == 0


async def test_events_with_snapshot_carry_the_event_image(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds={EventKind.MOTION}, with_snapshot=True) as events:
        cloud.start_event("Garage", "motion")
        event = await next_event(events)
    assert event.snapshot is not None and event.snapshot.source == "event_image"
