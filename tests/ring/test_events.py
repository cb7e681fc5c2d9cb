"""Ring events: push first, polling while push is silent, each ding exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import CameraEvent, EventKind, ReauthRequiredError
from camsdk.cloud import MemoryTokenStore
from camsdk.drivers.ring._classify import (
    Ding,
    ding_from_active,
    ding_from_history,
    ding_from_push,
)
from camsdk.drivers.ring._devices import parse_devices
from camsdk.drivers.ring._events import _Seen
from camsdk.testing import RingCloud
from camsdk.testing._ring_cloud._state import SimDing, default_devices

from .conftest import camera_url

pytestmark = pytest.mark.anyio

WAIT = 20.0


async def starts(events: Any, count: int) -> list[CameraEvent]:
    """The next ``count`` activity starts (ends of Ring's momentary events are skipped)."""
    found: list[CameraEvent] = []
    async for event in events:
        if event.active and event.kind not in (EventKind.CONNECTION, EventKind.STREAM_STATE):
            found.append(event)
            if len(found) == count:
                break
    return found


async def _take(events: Any, count: int) -> AsyncIterator[CameraEvent]:
    """The next ``count`` events of activities (starts and ends)."""
    taken = 0
    async for event in events:
        if event.kind in (EventKind.CONNECTION, EventKind.STREAM_STATE):
            continue
        yield event
        taken += 1
        if taken == count:
            return


async def push_ready(cloud: RingCloud, events: Any, which: int = 1) -> None:
    """Wait until a ding arrives by push (the channel is registered and healthy).

    Until the push channel is up, dings are polled: ding until one comes by push.
    """
    await cloud.wait_until(lambda c: c.ring_push_tokens and c.push_listeners)
    for _ in range(20):
        ding = cloud.ding(which, "motion")
        [event] = await starts(events, 1)
        assert event.event_id == ding
        if event.extra["source"] == "push":
            return
        await cloud.wait_until(lambda c: c.push_sent > 0)
    pytest.fail("no ding came by push")


async def test_a_doorbell_press_arrives_by_push_as_a_start_and_an_end(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud), **options) as cam:
            async with cam.events() as events:
                await push_ready(cloud, events, which=0)
                ding = cloud.ding(0, "ding")
                start, end = [e async for e in _take(events, 3)
                          if e.kind is EventKind.DOORBELL]  # after the motion's end
    assert start.kind is EventKind.DOORBELL and start.active and not end.active
    assert start.event_id == end.event_id == ding and int(ding) > 2**53
    assert start.camera_id == cam.id and start.vendor == "ring"
    assert start.topic == "ring/ding" and start.extra["source"] == "push"
    assert start.started_at.tzinfo is not None


async def test_a_person_is_reported_when_ring_detected_one(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud, 1), **options) as cam:
            async with cam.events() as events:
                await push_ready(cloud, events)
                ding = cloud.ding(1, "person")
                [event] = await starts(events, 1)
    assert event.kind is EventKind.PERSON and event.event_id == ding
    assert event.topic == "ring/motion/human"


async def test_an_intercom_reports_rings_and_unlocks_and_not_the_doorbell_with_its_id(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud, 3), **options) as intercom:
            async with intercom.events() as events:
                await cloud.wait_until(lambda c: c.ring_push_tokens and c.push_listeners)
                cloud.ding(0, "ding")  # the doorbell, whose id the intercom shares
                ring = cloud.ding(3, "ding")
                unlock = cloud.ding(3, "unlock")
                found = await starts(events, 2)
    assert [(e.event_id, e.kind) for e in found] == [(ring, EventKind.DOORBELL),
                                                     (unlock, EventKind.OTHER)]
    assert found[1].topic == "ring/intercom_unlock"


async def test_push_going_silent_hands_over_to_polling_with_no_event_lost_or_doubled(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    made: list[str] = []
    seen: list[CameraEvent] = []
    with anyio.fail_after(WAIT * 2):
        async with camsdk.open(camera_url(cloud, 1), **options) as cam:
            async with cam.events() as events:
                await push_ready(cloud, events)
                cloud.go_silent()
                made += [cloud.ding(1, "motion"), cloud.ding(1, "person")]
                seen += await starts(events, 2)
                made.append(cloud.ding(1, "motion"))  # while polling
                seen += await starts(events, 1)
                cloud.resume_push()
                for _ in range(50):  # until push has taken over again
                    made.append(cloud.ding(1, "person"))
                    seen += await starts(events, 1)
                    if seen[-1].extra["source"] == "push":
                        break
                    await cloud.wait_until(lambda c: c.push_listeners > 0)
                sentinel = cloud.ding(1, "motion")
                rest = await starts(events, 1)
    ids = [e.event_id for e in seen]
    assert ids == made, "every ding once, in order"
    assert rest[0].event_id == sentinel, "no ding came a second time before the next one"
    sources = [e.extra["source"] for e in seen]
    assert set(sources[:3]) <= {"poll", "history"}, "push was silent"
    assert sources[-1] == "push", "push took over again"


async def test_without_a_push_channel_dings_are_polled(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud), **options, events="poll") as cam:
            async with cam.events() as events:
                await cloud.wait_until(lambda c: len(c.poll_times) >= 1)
                ding = cloud.ding(0, "ding")
                [event] = await starts(events, 1)
    assert event.event_id == ding and event.extra["source"] == "poll"
    assert cloud.push_connects == 0 and cloud.registrations == {}


async def test_the_push_registration_is_kept_with_the_tokens_across_restarts(
    cloud: RingCloud, options: dict[str, Any], store: MemoryTokenStore
) -> None:
    for _ in range(2):
        with anyio.fail_after(WAIT):
            async with camsdk.open(camera_url(cloud, 1), **options) as cam:
                async with cam.events() as events:
                    await push_ready(cloud, events)
    tokens = await store.load("ring", "home")
    assert tokens is not None and '"android_id"' in tokens.extra["push"]
    assert len(cloud.registrations) == 1 and cloud.push_connects == 2


async def test_polls_that_fail_back_off_and_events_still_arrive(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    cloud.fail_polls(3, status=503)
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud), **options, events="poll") as cam:
            async with cam.events() as events:
                await cloud.wait_until(lambda c: len(c.poll_times) >= 1)  # listening
                ding = cloud.ding(0, "ding")
                [event] = await starts(events, 1)
    assert event.event_id == ding and len(cloud.poll_times) >= 4


async def test_a_slow_down_answer_holds_polling_for_its_retry_after(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    cloud.fail_polls(1, status=429, retry_after=1)
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud), **options, events="poll") as cam:
            async with cam.events() as events:
                await cloud.wait_until(lambda c: len(c.poll_times) >= 1)  # listening
                ding = cloud.ding(0, "ding")
                [event] = await starts(events, 1)
    assert event.event_id == ding
    first, second = cloud.poll_times[:2]
    assert second - first >= 0.95, "the next poll waited for Retry-After"


async def test_a_dead_grant_ends_events_and_is_not_retried(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera_url(cloud), **options, events="poll") as cam:
            cloud.expire_access_tokens()
            cloud.revoke_refresh_tokens()
            seen = []
            with pytest.raises(ReauthRequiredError):
                async with cam.events() as events:
                    async for event in events:
                        seen.append(event)
            # Asked again, the account answers from memory: Ring is not asked again.
            with pytest.raises(ReauthRequiredError):
                async with cam.events() as again:
                    async for _ in again:
                        pass
    assert [e.kind for e in seen] == [EventKind.CONNECTION]
    assert not seen[0].active and seen[0].extra.get("final") is True
    assert "ReauthRequiredError" in seen[0].extra["reason"]
    assert cloud.refused_refreshes == 1


# -- the shapes of Ring's events -----------------------------------------------------------

DEVICES = parse_devices({"doorbots": [d.as_json() for d in default_devices()
                                      if d.family == "doorbot"],
                         "other": [d.as_json() for d in default_devices()
                                   if d.family == "intercom"],
                         "stickup_cams": [d.as_json() for d in default_devices()
                                          if d.family == "stickup_cam"]})


def test_the_three_shapes_of_one_ding_have_the_same_id_and_kind() -> None:
    sim = SimDing.make(default_devices()[1], "motion", "human")
    shapes = [ding_from_push(sim.push_json(), DEVICES),
              ding_from_active(sim.active_json(), DEVICES),
              ding_from_history(sim.history_json(), DEVICES[2])]
    assert {(d.id, d.kind, d.device_key) for d in shapes if d is not None} == {
        (str(sim.id), EventKind.PERSON, f"stickup_cam-{2**60 + 21}")}


def test_a_live_view_in_the_active_dings_is_not_an_event() -> None:
    item = SimDing.make(default_devices()[0], "ding").active_json() | {"kind": "on_demand"}
    assert ding_from_active(item, DEVICES) is None


def test_hostile_notifications_are_ignored() -> None:
    for message in ({}, {"data": "x"}, {"data": {"device": {"id": 1.5e18}}},
                    {"android_config": {"category": "com.ring.pn.live-event.ding"},
                     "data": {"device": {"id": "nope"}, "event": {"ding": {"id": "1"}}}},
                    {"data": {"gcmData": {"action": "something.else"}}}):
        assert ding_from_push(message, DEVICES) is None


def test_a_ding_id_is_seen_once_whichever_path_brings_it() -> None:
    seen = _Seen()
    now = datetime.now(UTC)
    first = Ding("7300000000000000123", "doorbot-1", "ding", EventKind.DOORBELL, now, "push")
    again = Ding("7300000000000000123", "doorbot-1", "ding", EventKind.DOORBELL, now, "history")
    assert seen.first_time(first) and not seen.first_time(again)


def test_events_without_an_id_match_by_device_kind_and_time() -> None:
    seen = _Seen()
    now = datetime.now(UTC)
    unlock = Ding("", "intercom-1", "intercom_unlock", EventKind.OTHER, now, "push")
    close = Ding("", "intercom-1", "intercom_unlock", EventKind.OTHER,
                 now + timedelta(seconds=2), "history")
    later = Ding("", "intercom-1", "intercom_unlock", EventKind.OTHER,
                 now + timedelta(seconds=30), "history")
    assert seen.first_time(unlock) and not seen.first_time(close) and seen.first_time(later)
