"""Nest events from Cloud Pub/Sub: threads to start/update/end, feed health, subscriptions."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import CameraEvent, EventKind, ReauthRequiredError
from camsdk.drivers.nest._messages import EventMapper
from camsdk.testing import NestCloud, wait_until

pytestmark = pytest.mark.anyio

ACTIVITIES = {EventKind.MOTION, EventKind.PERSON, EventKind.SOUND, EventKind.DOORBELL}


async def next_event(events: AsyncIterator[CameraEvent], kinds: set[EventKind] | None = None,
                     timeout: float = 15.0) -> CameraEvent:
    with anyio.fail_after(timeout):
        async for event in events:
            if kinds is None or event.kind in kinds:
                return event
    raise AssertionError("the event stream ended")


async def test_a_motion_thread_starts_updates_and_ends_one_activity(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        thread = cloud.start_event("Garage", "motion")
        start = await next_event(events)
        cloud.update_event(thread, "person")
        person = await next_event(events)
        cloud.end_event(thread)
        ends = [await next_event(events), await next_event(events)]
    assert (start.kind, start.active, start.event_id) == (EventKind.MOTION, True, thread)
    assert start.topic == "sdm.devices.events.CameraMotion.Motion"
    assert start.extra["event_thread_state"] == "STARTED"
    assert start.extra["sdm_event_id"].startswith("sim-evt-")
    assert (person.kind, person.active, person.event_id) == (EventKind.PERSON, True, thread)
    assert {(e.kind, e.active) for e in ends} == {(EventKind.MOTION, False),
                                                  (EventKind.PERSON, False)}
    assert all(e.ended_at is not None and e.event_id == thread for e in ends)
    assert start.camera_id == cam.id


async def test_a_doorbell_press_is_a_doorbell_event(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Doorbell"), **options) as cam, \
            cam.events(kinds={EventKind.DOORBELL}) as events:
        thread = cloud.ring("Doorbell")
        event = await next_event(events)
    assert event.kind is EventKind.DOORBELL and event.event_id == thread
    assert event.topic == "sdm.devices.events.DoorbellChime.Chime"


async def test_a_device_without_threads_starts_an_activity_per_session(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Rtsp"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        session = cloud.start_event("Rtsp", "sound")
        event = await next_event(events)
    assert (event.kind, event.active, event.event_id) == (EventKind.SOUND, True, session)
    assert "event_thread_state" not in event.extra


async def test_only_the_cameras_own_events_reach_it(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        cloud.start_event("Doorbell", "motion")
        mine = cloud.start_event("Garage", "person")
        event = await next_event(events)
    assert event.event_id == mine


async def test_the_feed_reports_its_state_as_connection_events(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds={EventKind.CONNECTION}) as events:
        event = await next_event(events)
    assert event.active and event.extra["feed"] == "pubsub"
    assert event.extra["state"] == "live"


async def test_a_silent_feed_is_restarted_and_events_flow_again(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    options = {**options, "feed_window": 2.0}
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events() as events:
        assert (await next_event(events, {EventKind.CONNECTION})).active
        cloud.silence_events()
        down = await next_event(events, {EventKind.CONNECTION})
        cloud.resume_events()
        up = await next_event(events, {EventKind.CONNECTION})
        cloud.start_event("Garage", "motion")
        motion = await next_event(events, ACTIVITIES)
    assert not down.active and "no data for 2 s" in down.extra["reason"]
    assert up.active and motion.kind is EventKind.MOTION


async def test_a_deleted_subscription_is_recreated_and_audited(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    from camsdk.privacy import MemoryAuditSink

    log = MemoryAuditSink()
    async with camsdk.open(cloud.camera_url("Garage"), **options, audit=log) as cam, \
            cam.events() as events:
        await next_event(events, {EventKind.CONNECTION})
        cloud.delete_subscription()
        await wait_until(lambda: cloud.subscription.created == 1, timeout=10)
        cloud.start_event("Garage", "motion")
        motion = await next_event(events, ACTIVITIES)
    assert motion.kind is EventKind.MOTION
    recreate = [r for r in log.records if r.get("why") == "re-create the event subscription"]
    assert len(recreate) == 1 and recreate[0]["method"] == "PUT"


async def test_pulls_are_summarised_in_the_audit_log_not_recorded_one_by_one(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    from camsdk.privacy import MemoryAuditSink

    log = MemoryAuditSink()
    async with camsdk.open(cloud.camera_url("Garage"), **options, audit=log) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        for _ in range(3):
            cloud.start_event("Garage", "motion")
            await next_event(events)
        await wait_until(lambda: cloud.subscription.pulls >= 4, timeout=10)
    summaries = [r for r in log.records if r["event"] == "cloud.polls"]
    assert {r["what"] for r in summaries} >= {"pull events", "acknowledge events"}
    pulls = next(r for r in summaries if r["what"] == "pull events")
    assert pulls["count"] >= 4 and pulls["path"].endswith(":pull")
    assert not [r for r in log.records if r.get("why") == "pull events"]


async def test_a_dead_grant_stops_events_without_retrying(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam:
        with pytest.raises(ReauthRequiredError) as refused:
            async with cam.events() as events:
                await next_event(events, {EventKind.CONNECTION})
                cloud.revoke_grants()
                cloud.expire_access_tokens()
                stopped = await next_event(events, {EventKind.CONNECTION})  # the feed's
                final = await next_event(events, {EventKind.CONNECTION})  # the camera's
                requests = len(cloud.http.requests)
                await next_event(events)  # after the final event the iteration raises
        # A new subscription is refused from memory: Google is not asked again.
        with pytest.raises(ReauthRequiredError), anyio.fail_after(15):
            async with cam.events() as again:
                async for _ in again:
                    pass
        assert len(cloud.http.requests) == requests
    assert not stopped.active and stopped.extra["state"] == "stopped"
    assert not final.active and final.extra.get("final") is True
    assert "ReauthRequiredError" in final.extra["reason"]
    assert "camsdk login nest://" in str(refused.value)
    assert cloud.oauth.refusals == 1


def test_hostile_messages_are_skipped_in_bounded_memory() -> None:
    mapper = EventMapper()
    assert mapper.parse(b"\xff\xfe not json") is None
    assert mapper.parse(b"[1, 2, 3]") is None
    assert mapper.parse(b"{" + b" " * (300 * 1024) + b"}") is None
    many = {f"sdm.devices.events.CameraMotion.Motion{i}": {} for i in range(1000)}
    assert mapper.map({"resourceUpdate": {"name": "enterprises/p/devices/d",
                                          "events": many}}, {}) == []
    for i in range(3000):  # threads that never end are forgotten, oldest first
        mapper.map({"resourceUpdate": {"name": "enterprises/p/devices/d", "events": {
            "sdm.devices.events.CameraMotion.Motion": {"eventSessionId": f"s{i}"}}},
            "eventThreadId": f"t{i}", "eventThreadState": "STARTED"}, {"d": "nest:d"})
    assert len(mapper._threads) == 1024
    assert mapper.skipped == 3


async def test_garbage_pubsub_data_is_acknowledged_and_skipped(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"), **options) as cam, \
            cam.events(kinds=ACTIVITIES) as events:
        cloud.publish_raw("!!! not base64 !!!")
        cloud.publish_raw(base64.b64encode(b"not json").decode())
        thread = cloud.start_event("Garage", "motion")
        event = await next_event(events)
    assert event.event_id == thread
    await wait_until(lambda: cloud.subscription.acked >= 3, timeout=5)


def test_a_connectivity_change_is_a_connection_event() -> None:
    mapper = EventMapper()
    [(device, event)] = mapper.map({"resourceUpdate": {
        "name": "enterprises/p/devices/d",
        "traits": {"sdm.devices.traits.Connectivity": {"status": "OFFLINE"}}}}, {"d": "nest:d"})
    assert device == "d" and event.kind is EventKind.CONNECTION and not event.active
