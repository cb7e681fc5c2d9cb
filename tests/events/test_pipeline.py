"""Specification of the event pipeline: normalise, coalesce, dedupe, hold, fan-out, source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._errors import UnsupportedCapabilityError
from camsdk._events import EventPipeline, EventSubscription
from camsdk._models import CameraEvent, EventKind

pytestmark = pytest.mark.anyio

MOTION = EventKind.MOTION
PERSON = EventKind.PERSON


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ev(kind: EventKind = MOTION, active: bool = True, **fields: object) -> CameraEvent:
    return CameraEvent(kind=kind, active=active, **fields)  # type: ignore[arg-type]


def drain(sub: EventSubscription) -> list[CameraEvent]:
    """Everything queued for ``sub`` right now (publish is synchronous fan-out)."""
    out = []
    while sub.pending:
        out.append(sub._queue.popleft())
    return out


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def pipeline(clock: FakeClock) -> AsyncIterator[EventPipeline]:
    p = EventPipeline(camera_id="cam1", source=None, hold=30.0, dedupe_window=2.0, clock=clock)
    yield p
    await p.aclose()


# -- normalisation and coalescing ---------------------------------------------


async def test_missing_camera_id_and_event_id_are_filled(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev())
    (got,) = drain(sub)
    assert got.camera_id == "cam1"
    assert got.event_id.startswith("motion-")


async def test_event_camera_id_from_driver_is_kept(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(camera_id="hub/cam7"))
    assert drain(sub)[0].camera_id == "hub/cam7"


async def test_start_and_end_share_event_id_and_started_at(
    pipeline: EventPipeline, clock: FakeClock
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(zone="drive"))
    clock.advance(5)
    await pipeline.publish(ev(active=False, zone="drive"))
    start, end = drain(sub)
    assert end.event_id == start.event_id
    assert end.started_at == start.started_at
    assert end.ended_at is not None and start.ended_at is None
    assert not end.active


async def test_driver_supplied_event_ids_are_kept_and_separate_activities(
    pipeline: EventPipeline,
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(PERSON, event_id="track-1"))
    await pipeline.publish(ev(PERSON, event_id="track-2"))
    await pipeline.publish(ev(PERSON, active=False, event_id="track-1"))
    got = drain(sub)
    assert [(e.event_id, e.active) for e in got] == [
        ("track-1", True),
        ("track-2", True),
        ("track-1", False),
    ]
    assert pipeline.open_events == 1


async def test_different_zones_are_different_activities(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(zone="a"))
    await pipeline.publish(ev(zone="b"))
    a, b = drain(sub)
    assert a.event_id != b.event_id
    assert pipeline.open_events == 2


async def test_out_of_range_score_is_clamped(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    # model_construct skips validation, as a driver in a hurry might.
    await pipeline.publish(CameraEvent.model_construct(kind=PERSON, score=1.7))
    await pipeline.publish(CameraEvent.model_construct(kind=MOTION, score=float("nan")))
    person, motion = drain(sub)
    assert person.score == 1.0
    assert motion.score is None


async def test_state_kinds_pass_through_uncoalesced(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    for active in (False, False, True):
        await pipeline.publish(ev(EventKind.CONNECTION, active=active))
    got = drain(sub)
    assert [e.active for e in got] == [False, False, True]
    assert len({e.event_id for e in got}) == 3
    assert pipeline.open_events == 0


# -- deduplication ---------------------------------------------------------------


async def test_resend_within_dedupe_window_is_dropped(
    pipeline: EventPipeline, clock: FakeClock
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev())
    clock.advance(1.0)
    await pipeline.publish(ev())
    assert len(drain(sub)) == 1
    assert pipeline.duplicates == 1


async def test_resend_after_dedupe_window_is_an_update_of_the_same_activity(
    pipeline: EventPipeline, clock: FakeClock
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(score=0.5))
    clock.advance(3.0)
    await pipeline.publish(ev(score=0.9))
    start, update = drain(sub)
    assert update.active and update.event_id == start.event_id
    assert update.started_at == start.started_at
    assert update.score == 0.9


async def test_resent_end_is_dropped(pipeline: EventPipeline, clock: FakeClock) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev())
    await pipeline.publish(ev(active=False))
    clock.advance(1.0)
    await pipeline.publish(ev(active=False))
    assert [e.active for e in drain(sub)] == [True, False]


async def test_end_without_a_seen_start_is_passed_on(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(active=False, zone="x"))
    (end,) = drain(sub)
    assert not end.active and end.event_id and end.ended_at is not None


async def test_new_start_after_end_is_a_new_activity(
    pipeline: EventPipeline, clock: FakeClock
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev())
    await pipeline.publish(ev(active=False))
    clock.advance(0.5)
    await pipeline.publish(ev())
    first, _, second = drain(sub)
    assert second.active and second.event_id != first.event_id


# -- hold ------------------------------------------------------------------------


async def test_activity_without_end_is_closed_after_hold(
    pipeline: EventPipeline, clock: FakeClock
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev(zone="door"))
    clock.advance(29.9)
    assert pipeline.tick() == 0
    clock.advance(0.2)
    assert pipeline.tick() == 1
    start, end = drain(sub)
    assert not end.active and end.event_id == start.event_id
    assert end.extra["closed_by"] == "hold"
    assert end.ended_at is not None
    assert pipeline.open_events == 0


async def test_resends_extend_the_hold(pipeline: EventPipeline, clock: FakeClock) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev())
    for _ in range(20):  # an ONVIF device re-announcing IsMotion=true every second
        clock.advance(1.0)
        await pipeline.publish(ev())
    clock.advance(29.0)
    assert pipeline.tick() == 0
    clock.advance(1.0)
    assert pipeline.tick() == 1
    assert [e.active for e in drain(sub)] == [True, False]


async def test_real_end_after_hold_closed_it_is_dropped(
    pipeline: EventPipeline, clock: FakeClock
) -> None:
    sub = pipeline.subscribe()
    await pipeline.publish(ev())
    clock.advance(31)
    pipeline.tick()
    clock.advance(1)
    await pipeline.publish(ev(active=False))
    assert [e.active for e in drain(sub)] == [True, False]


async def test_hold_timer_closes_activity_on_its_own() -> None:
    async with EventPipeline(camera_id="c", source=None, hold=0.05) as p, p.subscribe() as sub:
        await p.publish(ev())
        with anyio.fail_after(5):
            start = await anext(sub)
            end = await anext(sub)
    assert end.event_id == start.event_id and not end.active
    assert end.extra["closed_by"] == "hold"


# -- filters -------------------------------------------------------------------------


async def test_kind_filter(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe(kinds={PERSON})
    await pipeline.publish(ev(MOTION))
    await pipeline.publish(ev(PERSON))
    assert [e.kind for e in drain(sub)] == [PERSON]


async def test_camera_filter(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe(cameras={"hub/2"})
    await pipeline.publish(ev(camera_id="hub/1"))
    await pipeline.publish(ev(camera_id="hub/2"))
    assert [e.camera_id for e in drain(sub)] == ["hub/2"]


async def test_zone_filter_applies_to_activities_not_to_state(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe(zones={"drive"})
    await pipeline.publish(ev(zone="garden"))
    await pipeline.publish(ev(zone="drive"))
    await pipeline.publish(ev())
    await pipeline.publish(ev(EventKind.CONNECTION, active=False))
    got = drain(sub)
    assert [(e.kind, e.zone) for e in got] == [(MOTION, "drive"), (EventKind.CONNECTION, None)]


async def test_min_score_filters_starts_but_never_orphans_an_end(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe(min_score=0.8)
    await pipeline.publish(ev(PERSON, zone="a", score=0.5))
    await pipeline.publish(ev(PERSON, zone="b", score=0.9))
    await pipeline.publish(ev(PERSON, zone="a", active=False))
    await pipeline.publish(ev(PERSON, zone="b", active=False))  # end carries no score
    await pipeline.publish(ev(MOTION))  # no score: not a detector, passes
    got = drain(sub)
    assert [(e.zone, e.active) for e in got] == [("b", True), ("b", False), (None, True)]


# -- fan-out -----------------------------------------------------------------------------


async def test_slow_subscriber_drops_oldest_and_counts(pipeline: EventPipeline) -> None:
    slow = pipeline.subscribe(queue_size=3)
    fast = pipeline.subscribe()
    for i in range(10):
        await pipeline.publish(ev(zone=f"z{i}"))
    assert slow.dropped == 7
    assert [e.zone for e in drain(slow)] == ["z7", "z8", "z9"]
    assert fast.dropped == 0 and len(drain(fast)) == 10


async def test_a_subscriber_that_never_reads_does_not_delay_another() -> None:
    async with EventPipeline(camera_id="c", source=None, queue_size=4) as p:
        p.subscribe()  # never read
        async with p.subscribe(queue_size=1000) as reader:
            with anyio.fail_after(5):
                for i in range(500):
                    await p.publish(ev(zone=f"z{i}"))
                got = [await anext(reader) for _ in range(500)]
    assert len(got) == 500


async def test_waiting_subscriber_is_woken_by_publish() -> None:
    async with EventPipeline(camera_id="c", source=None) as p, p.subscribe() as sub:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                result: list[CameraEvent] = []

                async def reader() -> None:
                    result.append(await anext(sub))

                tg.start_soon(reader)
                await anyio.wait_all_tasks_blocked()
                await p.publish(ev())
    assert result[0].kind is MOTION


async def test_aclose_drains_then_ends_subscriptions_and_is_idempotent() -> None:
    p = EventPipeline(camera_id="c", source=None)
    sub = p.subscribe()
    await p.publish(ev())
    await p.aclose()
    await p.aclose()
    with anyio.fail_after(5):
        got = [e async for e in sub]
    assert len(got) == 1
    assert p.subscribers == 0
    with pytest.raises(Exception, match="closed"):
        p.subscribe()


async def test_subscription_aclose_removes_it(pipeline: EventPipeline) -> None:
    sub = pipeline.subscribe()
    assert pipeline.subscribers == 1
    await sub.aclose()
    await sub.aclose()
    assert pipeline.subscribers == 0
    await pipeline.publish(ev())
    assert sub.pending == 0


# -- the driver's source --------------------------------------------------------------------


class ScriptedSource:
    """A driver event source fed by the test; records when it is started and closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[CameraEvent | Exception] = asyncio.Queue()
        self.starts = 0
        self.closes = 0
        self.running = asyncio.Event()
        self.closed = asyncio.Event()

    def __call__(self) -> AsyncIterator[CameraEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[CameraEvent]:
        self.starts += 1
        self.closed.clear()
        self.running.set()
        try:
            while True:
                item = await self.queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.running.clear()
            self.closes += 1
            self.closed.set()


async def test_source_starts_with_first_subscriber_and_stops_with_last() -> None:
    source = ScriptedSource()
    async with EventPipeline(camera_id="c", source=source) as p:
        assert source.starts == 0 and not p.source_running
        a = p.subscribe()
        b = p.subscribe()
        with anyio.fail_after(5):
            await source.running.wait()
            source.queue.put_nowait(ev())
            assert (await anext(a)).kind is MOTION
            await a.aclose()
            assert p.source_running
            await b.aclose()
            await source.closed.wait()
        assert source.starts == 1 and source.closes == 1
        assert not p.source_running


async def test_source_failure_publishes_redacted_connection_event_and_retries() -> None:
    source = ScriptedSource()
    async with (
        EventPipeline(
            camera_id="c", source=source, backoff_base=0.01, backoff_cap=0.02, recover_after=60
        ) as p,
        p.subscribe() as sub,
    ):
        with anyio.fail_after(5):
            await source.running.wait()
            source.queue.put_nowait(OSError("lost rtsp://admin:hunter2@10.0.0.5/onvif"))
            down = await anext(sub)
            source.queue.put_nowait(ev(PERSON))
            after = await anext(sub)
            recovered = await anext(sub)
    assert down.kind is EventKind.CONNECTION and not down.active
    assert "hunter2" not in down.extra["reason"] and "OSError" in down.extra["reason"]
    # The first event from the restarted source proves recovery, then is delivered.
    assert after.kind is EventKind.CONNECTION and after.active
    assert recovered.kind is PERSON
    assert source.starts == 2


async def test_restarted_source_that_stays_quiet_is_declared_recovered() -> None:
    source = ScriptedSource()
    async with (
        EventPipeline(
            camera_id="c", source=source, backoff_base=0.01, backoff_cap=0.02, recover_after=0.05
        ) as p,
        p.subscribe() as sub,
    ):
        with anyio.fail_after(5):
            await source.running.wait()
            source.queue.put_nowait(RuntimeError("boom"))
            assert not (await anext(sub)).active
            up = await anext(sub)
    assert up.kind is EventKind.CONNECTION and up.active


async def test_source_without_events_support_ends_subscriptions_with_the_error() -> None:
    def no_events() -> AsyncIterator[CameraEvent]:
        raise UnsupportedCapabilityError("this driver has no events")

    async with EventPipeline(camera_id="c", source=no_events) as p, p.subscribe() as sub:
        with anyio.fail_after(5), pytest.raises(UnsupportedCapabilityError):
            await anext(sub)


# -- a property: whatever the device sends, each activity reads start [update...] end ------

step = st.tuples(
    st.sampled_from([MOTION, PERSON]),
    st.sampled_from([None, "a"]),
    st.booleans(),
    st.floats(min_value=0.0, max_value=40.0),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=40))
def test_every_activity_is_well_formed(
    steps: list[tuple[EventKind, str | None, bool, float]],
) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        async with EventPipeline(camera_id="c", source=None, clock=clock) as p:
            sub = p.subscribe(queue_size=1000)
            for kind, zone, active, dt in steps:
                clock.advance(dt)
                p.tick()
                await p.publish(
                    CameraEvent(kind=kind, zone=zone, active=active, started_at=datetime.now(UTC))
                )
            clock.advance(31)
            p.tick()
            ended: set[str] = set()
            open_ids: dict[tuple[EventKind, str | None], str] = {}
            for e in drain(sub):
                assert e.event_id not in ended, "no event after its end"
                key = (e.kind, e.zone)
                if e.active:
                    assert open_ids.setdefault(key, e.event_id) == e.event_id
                else:
                    if key in open_ids:
                        assert open_ids.pop(key) == e.event_id
                    ended.add(e.event_id)
                    assert e.ended_at is not None
            assert not open_ids, "every start was closed (by an end or the hold)"

    asyncio.run(scenario())
