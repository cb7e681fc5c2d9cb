"""Events from the console's websockets: lifecycle, recovery, liveness, hostile frames."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import EventKind
from camsdk.testing import UnifiConsole

pytestmark = pytest.mark.anyio

WAIT = 10.0


async def _next(events: AsyncIterator[camsdk.CameraEvent]) -> camsdk.CameraEvent:
    with anyio.fail_after(WAIT):
        return await anext(aiter(events))


async def _opened(console: UnifiConsole, options: dict[str, Any], index: int = 0
                  ) -> camsdk.Camera:
    cam = camsdk.open(console.camera_url(index), **options)
    await cam.connect()
    return cam


DEVICE_KINDS = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}


async def test_a_smart_detection_starts_and_ends_with_one_event_id(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        ident = console.start_event(0, "smartDetectZone", smart_types=["person"], score=91)
        start = await _next(events)
        console.end_event(ident)
        end = await _next(events)
    assert (start.kind, start.active, start.score) == (EventKind.PERSON, True, 0.91)
    assert (end.kind, end.active) == (EventKind.PERSON, False)
    assert start.event_id == end.event_id == f"{ident}:person"
    assert start.topic == "event/smartDetectZone" and start.extra["protect_event"] == ident
    assert end.ended_at is not None


async def test_an_object_type_joining_a_running_detection_starts_once(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        ident = console.start_event(0, "smartDetectZone", smart_types=["person"])
        first = await _next(events)
        console.update_event(ident, smartDetectTypes=["person", "vehicle"], score=95)
        second = await _next(events)
        console.end_event(ident)
        ends = {(await _next(events)).event_id, (await _next(events)).event_id}
    assert (first.kind, second.kind) == (EventKind.PERSON, EventKind.VEHICLE)
    assert ends == {f"{ident}:person", f"{ident}:vehicle"}


@pytest.mark.parametrize(("protect", "kind"), [
    ("motion", EventKind.MOTION), ("smartDetectLine", EventKind.LINE_CROSSING),
    ("smartAudioDetect", EventKind.SOUND), ("somethingNew", EventKind.OTHER),
])
async def test_protect_event_types_map_to_kinds(
    console: UnifiConsole, options: dict[str, Any], protect: str, kind: EventKind
) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        console.start_event(0, protect)
        assert (await _next(events)).kind is kind


async def test_a_ring_is_a_doorbell_start_and_end(console: UnifiConsole,
                                                   options: dict[str, Any]) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        console.ring(0)
        ring = [await _next(events), await _next(events)]
    assert [(e.kind, e.active) for e in ring] == [(EventKind.DOORBELL, True),
                                                  (EventKind.DOORBELL, False)]


async def test_events_of_other_cameras_are_not_delivered(console: UnifiConsole,
                                                         options: dict[str, Any]) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        console.start_event(1, "motion")
        mine = console.start_event(0, "motion")
        assert (await _next(events)).event_id == mine


async def test_unknown_model_keys_and_garbage_are_skipped(console: UnifiConsole,
                                                          options: dict[str, Any]) -> None:
    from camsdk.drivers.unifi._codec import UpdatePacket, encode_packet

    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        console.send_raw(encode_packet(UpdatePacket(
            {"action": "update", "modelKey": "futureDevice", "id": "z"}, {"x": 1})))
        console.send_raw("a text frame")
        mine = console.start_event(0, "motion")
        assert (await _next(events)).event_id == mine


async def test_a_malformed_packet_reconnects_the_websocket(console: UnifiConsole,
                                                           options: dict[str, Any]) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        console.send_raw(b"\x01\x01\x00\x00\xff\xff\xff\xff")
        await console.wait_until(lambda c: c.ws_connects >= 2)
        await console.wait_until(lambda c: c.websockets >= 1)
        mine = console.start_event(0, "motion")
        assert (await _next(events)).event_id == mine


@pytest.mark.parametrize("compress", [True, False])
async def test_fragmented_messages_are_reassembled(options: dict[str, Any],
                                                   compress: bool) -> None:
    from .conftest import PASSWORD, USER

    async with UnifiConsole(username=USER, password=PASSWORD, fragment=True,
                            compress=compress) as console:
        async with await _opened(console, options) as cam, \
                cam.events(kinds=DEVICE_KINDS) as events:
            await console.wait_until(lambda c: c.websockets >= 1)
            mine = console.start_event(0, "motion")
            assert (await _next(events)).event_id == mine


async def test_a_half_open_websocket_is_detected_and_replaced(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        assert console.go_silent() == 1
        await console.wait_until(lambda c: c.ws_connects >= 2, timeout=WAIT)
        await console.wait_until(lambda c: c.websockets >= 1)
        mine = console.start_event(0, "motion")
        event = await _next(events)
    assert event.event_id == mine


async def test_events_missed_while_away_are_recovered_without_duplicates(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with await _opened(console, options) as cam, cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        running = console.start_event(0, "motion")
        ended_while_away = console.start_event(0, "smartDetectZone", smart_types=["animal"])
        assert (await _next(events)).event_id == running
        assert (await _next(events)).event_id == f"{ended_while_away}:animal"
        console.drop_websockets()
        await console.wait_until(lambda c: c.websockets == 0)
        console.end_event(ended_while_away, publish=False)
        started_while_away = console.start_event(0, "smartDetectZone", smart_types=["person"],
                                                 publish=False)
        got = [await _next(events), await _next(events)]
        console.end_event(running)
        last = await _next(events)
    assert sorted((e.event_id, e.active) for e in got) == sorted(
        [(f"{ended_while_away}:animal", False), (f"{started_while_away}:person", True)])
    assert (last.event_id, last.active) == (running, False)


async def test_integration_api_events_arrive_normalised(console: UnifiConsole,
                                                        options: dict[str, Any]) -> None:
    from .conftest import API_KEY

    keyed = {k: v for k, v in options.items() if k != "credentials"}
    async with camsdk.open(console.camera_url(0), **keyed, api_key=API_KEY) as cam, \
            cam.events(kinds=DEVICE_KINDS) as events:
        await console.wait_until(lambda c: c.websockets >= 1)
        ident = console.start_event(0, "smartDetectZone", smart_types=["vehicle"])
        start = await _next(events)
        console.end_event(ident)
        end = await _next(events)
    assert (start.kind, start.active, end.active) == (EventKind.VEHICLE, True, False)


async def test_a_refused_websocket_ends_the_events_without_retrying(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    from camsdk.drivers.unifi import _session

    async with await _opened(console, options) as cam:
        console.expire_sessions()
        console.password = "changed-on-the-console"
        _session._REFUSED.clear()
        async with cam.events() as events:
            with anyio.fail_after(WAIT):
                async for event in events:
                    if event.kind is EventKind.CONNECTION and not event.active:
                        break
        attempts = len([r for r in console.http.requests if r.path == "/api/auth/login"])
    assert console.failed_logins == 1
    assert attempts == 2  # the first login, and the one refused: nothing after it
