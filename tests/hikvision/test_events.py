"""Events from the simulated device's alert stream, through ``cam.events()``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

import camsdk
from camsdk import EventKind
from camsdk.testing import HikvisionDevice

from ._helpers import CREDS, FAST, PASSWORD, USER

pytestmark = pytest.mark.anyio

OPTIONS = "?heartbeat=0.1&heartbeats_missed=3&event_timeout=0.3"


async def _open(device: HikvisionDevice, channel: int = 1) -> camsdk.Camera:
    cam = camsdk.open(device.camera_url(channel) + OPTIONS, credentials=CREDS, config=FAST)
    await cam.connect()
    return cam


async def _device_events(cam: camsdk.Camera, count: int) -> list[camsdk.CameraEvent]:
    device_kinds = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}
    found: list[camsdk.CameraEvent] = []
    async with cam.events(kinds=device_kinds) as events:
        async for event in events:
            found.append(event)
            if len(found) == count:
                break
    return found


@pytest.fixture
async def cam(camera: HikvisionDevice) -> AsyncIterator[camsdk.Camera]:
    c = await _open(camera)
    try:
        yield c
    finally:
        await c.aclose()


async def _subscribed(device: HikvisionDevice) -> None:
    await device.wait_until(lambda d: d.alert_streams >= 1)


async def test_start_and_end_share_one_event_id(camera: HikvisionDevice, cam: camsdk.Camera
                                                ) -> None:
    with anyio.fail_after(10):
        async with cam.events(kinds="motion") as events:
            await _subscribed(camera)
            camera.emit("VMD", active=True)
            camera.emit("VMD", active=True)  # firmware repeats active while it lasts
            camera.emit("VMD", active=False)
            start = await anext(aiter(events))
            end = await anext(aiter(events))
    assert (start.active, end.active) == (True, False)
    assert start.event_id == end.event_id
    assert (start.topic, start.vendor) == ("VMD", "hikvision")
    assert end.extra["closed_by"] == "device"
    assert start.device_time is not None and start.device_time.tzinfo is not None


async def test_an_event_without_an_end_ends_after_event_timeout(
    camera: HikvisionDevice, cam: camsdk.Camera
) -> None:
    with anyio.fail_after(10):
        async with cam.events(kinds="intrusion") as events:
            await _subscribed(camera)
            camera.emit("fielddetection", region="2")
            start = await anext(aiter(events))
            end = await anext(aiter(events))
    assert (start.kind, start.zone) == (EventKind.INTRUSION, "region 2")
    assert not end.active and end.extra["closed_by"] == "timeout"
    assert end.event_id == start.event_id


@pytest.mark.parametrize(
    ("event_type", "options", "kind"),
    [
        ("VMD", {}, EventKind.MOTION),
        ("VMD", {"target": "human"}, EventKind.PERSON),
        ("VMD", {"target": "vehicle"}, EventKind.VEHICLE),
        ("linedetection", {"target": "human"}, EventKind.LINE_CROSSING),
        ("regionEntrance", {}, EventKind.INTRUSION),
        ("PIR", {}, EventKind.MOTION),
        ("tamperdetection", {}, EventKind.TAMPER),
        ("shelteralarm", {}, EventKind.TAMPER),
        ("IO", {"channel": None, "port": 1}, EventKind.INPUT),
        ("facedetection", {}, EventKind.FACE_DETECTED),
        ("audioexception", {}, EventKind.SOUND),
        ("diskfull", {"channel": None}, EventKind.OTHER),
    ],
)
async def test_event_types_map_to_kinds_keeping_the_raw_code(
    camera: HikvisionDevice, cam: camsdk.Camera, event_type: str, options: dict[str, object],
    kind: EventKind,
) -> None:
    with anyio.fail_after(10):
        async with cam.events(kinds=kind) as events:
            await _subscribed(camera)
            camera.emit(event_type, **options)  # type: ignore[arg-type]
            event = await anext(aiter(events))
    assert event.kind is kind
    assert event.topic == event_type
    assert event.extra["event_type"] == event_type
    if "target" in options:
        assert event.extra["target"] == options["target"]
    if "port" in options:
        assert event.zone == "input 1"


async def test_heartbeats_keep_the_stream_alive_and_are_not_events(
    camera: HikvisionDevice, cam: camsdk.Camera
) -> None:
    camera.heartbeat = 0.05
    with anyio.fail_after(10):
        async with cam.events() as events:
            await _subscribed(camera)
            await camera.wait_until(lambda d: d.heartbeats_sent >= 5)
            camera.emit("VMD")
            event = await anext(aiter(events))
    assert event.kind is EventKind.MOTION
    hub = cam._driver.session.alerts  # type: ignore[attr-defined]
    assert hub.heartbeats >= 5
    assert camera.alert_connects == 1  # heartbeats every 0.05 s: never taken for dead


async def test_a_silent_stream_is_dropped_and_reopened(
    camera: HikvisionDevice, cam: camsdk.Camera
) -> None:
    with anyio.fail_after(15):
        async with cam.events() as events:
            await _subscribed(camera)
            camera.go_silent()  # half-open: the socket stays, no byte comes
            down = await anext(aiter(events))
            assert (down.kind, down.active) == (EventKind.CONNECTION, False)
            assert "heartbeat" in down.extra["reason"]
            camera.resume()
            await camera.wait_until(lambda d: d.alert_connects >= 2)
            await camera.wait_until(lambda d: d.alert_streams >= 1)
            camera.emit("VMD")
            seen = [await anext(aiter(events)), await anext(aiter(events))]
    assert [(e.kind, e.active) for e in seen] == [
        (EventKind.CONNECTION, True), (EventKind.MOTION, True)]


async def test_parts_split_across_chunks_and_lying_lengths_still_parse(
    camera: HikvisionDevice, cam: camsdk.Camera
) -> None:
    camera.http.split_chunks([7, 1, 13, 3])
    camera.alert_length_error = 9
    with anyio.fail_after(10):
        async with cam.events(kinds={"motion", "line_crossing"}) as events:
            await _subscribed(camera)
            camera.emit("VMD")
            camera.emit("linedetection")
            got = []
            async for event in events:
                if event.active:
                    got.append(event)
                if len(got) == 2:
                    break
    assert [e.kind for e in got] == [EventKind.MOTION, EventKind.LINE_CROSSING]


async def test_malformed_and_hostile_parts_are_skipped(
    camera: HikvisionDevice, cam: camsdk.Camera
) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><EventNotificationAlert>&b;'
            b"</EventNotificationAlert>")
    with anyio.fail_after(10):
        async with cam.events(kinds="motion") as events:
            await _subscribed(camera)
            camera.emit_raw(bomb)
            camera.emit_raw(b"<EventNotificationAlert><eventType>VMD")  # cut short
            camera.emit_raw(b"\xff\xd8\xff\xe0 a picture part", "image/jpeg")
            camera.emit_raw(b'{"eventType": "VMD", "eventState": "active", "channelID": 1}',
                            "application/json")
            event = await anext(aiter(events))
    assert event.kind is EventKind.MOTION  # the JSON alert, after the junk
    hub = cam._driver.session.alerts  # type: ignore[attr-defined]
    assert hub.malformed == 2


async def test_cameras_of_one_device_share_one_alert_stream() -> None:
    async with HikvisionDevice(username=USER, password=PASSWORD, kind="nvr", channels=2,
                               max_alert_streams=1, heartbeat=0.5) as nvr:
        one, two = await _open(nvr, 1), await _open(nvr, 2)
        try:
            with anyio.fail_after(10):
                async with one.events(kinds="motion") as a, two.events(kinds="motion") as b:
                    await _subscribed(nvr)
                    nvr.emit("VMD", channel=1)
                    nvr.emit("VMD", channel=2)
                    first, second = await anext(aiter(a)), await anext(aiter(b))
        finally:
            await one.aclose()
            await two.aclose()
    assert (first.extra["channel"], second.extra["channel"]) == (1, 2)
    assert (nvr.alert_connects, nvr.alert_refusals) == (1, 0)


async def test_a_refused_login_on_the_alert_stream_is_never_retried(
    camera: HikvisionDevice, cam: camsdk.Camera
) -> None:
    camera.http.login._password = "changed-on-the-device"  # the owner changed it meanwhile
    with anyio.fail_after(15):
        async with cam.events() as events:
            first = await anext(aiter(events))
            asked = len(camera.http.requests)
            with pytest.raises(camsdk.AuthenticationError):  # the stream ends: no retry
                await anext(aiter(events))
    assert (first.kind, first.active) == (EventKind.CONNECTION, False)
    assert "AuthenticationError" in first.extra["reason"] and first.extra["final"] is True
    assert len(camera.http.requests) == asked
    assert camera.failed_logins <= 2 and not camera.locked
