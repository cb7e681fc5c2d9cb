"""Reolink events against the simulator: states to kinds, ONVIF as a trigger, failures.

Every wait is bounded (``anyio.fail_after``) and ends on an event, never on
the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

import camsdk
from camsdk import CameraEvent, EventKind
from camsdk.testing import ReolinkDevice, wait_until

from .conftest import PASSWORD, USER, options

pytestmark = pytest.mark.anyio

DEVICE_KINDS = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}


async def _next(events: AsyncIterator[CameraEvent]) -> CameraEvent:
    return await anext(aiter(events))


async def test_motion_starts_and_ends_with_one_event_id(camera: ReolinkDevice) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(camera.url, **options()) as cam, cam.events() as events:
            camera.set_state(0, "md", True)
            start = await _next(events)
            camera.set_state(0, "md", False)
            end = await _next(events)
    assert (start.kind, start.active, end.kind, end.active) == (
        EventKind.MOTION, True, EventKind.MOTION, False)
    assert start.event_id == end.event_id and end.ended_at is not None
    assert start.topic == "GetMdState/md" and start.extra["code"] == "md"
    assert start.extra["source"] == "poll" and start.extra["latency_ms"] >= 0
    assert start.camera_id == "reolink:SIM0000REOLINK01"


@pytest.mark.parametrize(("code", "kind"), [("people", EventKind.PERSON),
                                            ("vehicle", EventKind.VEHICLE),
                                            ("dog_cat", EventKind.ANIMAL)])
async def test_ai_states_map_to_kinds_and_keep_the_raw_code(
    camera: ReolinkDevice, code: str, kind: EventKind
) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(camera.url, **options()) as cam, cam.events() as events:
            camera.set_state(0, code, True)
            event = await _next(events)
    assert (event.kind, event.topic, event.extra["code"]) == (kind, f"GetAiState/{code}", code)


async def test_a_doorbell_press_is_a_doorbell_event() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, doorbell=True,
                             model="Reolink Video Doorbell PoE") as bell:
        with anyio.fail_after(10):
            async with camsdk.open(bell.url, **options()) as cam, cam.events(
                kinds={EventKind.DOORBELL}
            ) as events:
                bell.press_doorbell()
                event = await _next(events)
    assert event.kind is EventKind.DOORBELL and event.extra["code"] == "visitor"


async def test_old_firmware_answering_bare_numbers_still_gives_events() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, legacy=True) as old:
        with anyio.fail_after(10):
            async with camsdk.open(old.url, **options()) as cam, cam.events() as events:
                old.set_state(0, "people", True)
                event = await _next(events)
    assert event.kind is EventKind.PERSON


async def test_an_onvif_notification_polls_at_once() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, onvif=True) as device:
        # A 30 s poll interval: only the ONVIF trigger can deliver this within the bound.
        with anyio.fail_after(15):
            async with camsdk.open(device.url, **options(poll_interval=30.0)) as cam:
                async with cam.events(kinds=DEVICE_KINDS) as events:
                    await device.onvif.wait_until(lambda d: d.subscriptions >= 1)
                    device.set_state(0, "people", True)
                    event = await _next(events)
                    source = await cam.call_extension("event_source")
    assert event.kind is EventKind.PERSON and event.extra["source"] == "onvif"
    assert source["source"] == "onvif" and source["notifications"] >= 1


async def test_each_channel_gets_only_its_own_events(nvr: ReolinkDevice) -> None:
    with anyio.fail_after(15):
        async with camsdk.hub(nvr.url, **options()) as hub:
            front, garden = await hub.cameras()
            await front.connect()
            await garden.connect()
            async with front.events(kinds=DEVICE_KINDS) as front_events, garden.events(
                kinds=DEVICE_KINDS
            ) as garden_events:
                nvr.set_state(3, "people", True)
                garden_event = await _next(garden_events)
                nvr.set_state(0, "vehicle", True)
                front_event = await _next(front_events)
    assert (garden_event.kind, garden_event.extra["channel"]) == (EventKind.PERSON, 3)
    assert (front_event.kind, front_event.extra["channel"]) == (EventKind.VEHICLE, 0)
    assert garden_event.camera_id == garden.id != front_event.camera_id


async def test_a_silent_device_is_reported_then_recovers(camera: ReolinkDevice) -> None:
    config = {"request_timeout": 0.5, "backoff_base": 0.05, "backoff_cap": 0.1}
    with anyio.fail_after(15):
        async with camsdk.open(camera.url, **options(config=config)) as cam:
            async with cam.events() as events:
                camera.silence_events()
                down = await _next(events)
                camera.restore_events()
                up = await _next(events)
                camera.set_state(0, "md", True)
                motion = await _next(events)
    assert (down.kind, down.active) == (EventKind.CONNECTION, False)
    assert "Timeout" in down.extra["reason"]
    assert (up.kind, up.active) == (EventKind.CONNECTION, True)
    assert motion.kind is EventKind.MOTION


async def test_a_password_changed_on_the_device_stops_events_without_retrying(
    camera: ReolinkDevice,
) -> None:
    with anyio.fail_after(15):
        async with camsdk.open(camera.url, **options()) as cam, cam.events() as events:
            camera.account._password = "changed-by-the-owner"
            camera.forget_tokens()
            failures = []
            with pytest.raises(camsdk.AuthenticationError):  # the stream ends: no retry
                async for event in events:
                    if event.kind is EventKind.CONNECTION and not event.active:
                        failures.append(event)
    assert len(failures) == 1 and failures[0].extra["final"] is True
    assert "AuthenticationError" in failures[0].extra["reason"]
    assert camera.account.failed_logins == 1


async def test_the_event_source_is_reported_with_its_measured_round_trip(
    camera: ReolinkDevice,
) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(camera.url, **options()) as cam:
            idle = await cam.call_extension("event_source")
            async with cam.events():
                await wait_until(lambda: camera.account.commands["GetMdState"] >= 2)
                busy = await cam.call_extension("event_source")
    assert idle["source"] == "idle"
    assert busy["source"] == "poll" and busy["polls"] >= 1 and busy["last_rtt_ms"] > 0


async def test_onvif_refusing_the_password_leaves_polling_and_is_not_retried() -> None:
    async with ReolinkDevice(username=USER, password=PASSWORD, onvif=True) as device:
        device.onvif.password = "another-password"  # ONVIF user differs from the web user
        with anyio.fail_after(15):
            async with camsdk.open(device.url, **options()) as cam:
                async with cam.events(kinds=DEVICE_KINDS) as events:
                    await wait_until(lambda: bool(device.onvif.faults_sent))
                    device.set_state(0, "md", True)
                    event = await _next(events)
                    await wait_until(lambda: device.onvif.subscriptions == 0)
                    source = await cam.call_extension("event_source")
    assert event.extra["source"] == "poll"
    # One connect (it tries WS-Security, then Digest), then never again.
    assert source["onvif"] == "refused"
    assert device.onvif.faults_sent.count("GetDeviceInformation") <= 2
