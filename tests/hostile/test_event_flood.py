"""Event floods: a device that emits events as fast as it can, read by one slow subscriber.

The flood comes from a tiny third-party driver registered here (as an
external package would). Its source yields to the event loop every 64 events,
as a driver reading buffered bytes off a socket does. The pipeline must keep
every subscriber's queue bounded and count what it drops, never make the
device wait for a reader, keep serving the readers that do read, and keep its
own bookkeeping (open activities, recently ended ones) bounded however many
different activities the device invents.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from typing import ClassVar, Literal

import pytest

import camsdk
from camsdk import CameraDriver, CameraEvent, CameraInfo, Capability, EventKind, register_driver
from camsdk._driver import DriverOptions

from .conftest import MIB

pytestmark = pytest.mark.anyio

#: Per-subscriber queue length of `Camera.events` (the pipeline's default).
QUEUE = 256
WAIT = 20.0


class FloodOptions(DriverOptions):
    """``count`` events per burst; ``bursts`` bursts, each after `FloodDriver.more` is set."""

    count: int = 10_000
    bursts: int = 1
    shape: Literal["starts", "pairs"] = "starts"


class FloodDriver(CameraDriver):
    """A camera whose event source emits events as fast as it can."""

    schemes: ClassVar[tuple[str, ...]] = ("hostile-flood",)
    display_name: ClassVar[str] = "Event flood (test)"
    declared_capabilities: ClassVar[Capability] = Capability.EVENTS
    Options: ClassVar[type[DriverOptions]] = FloodOptions
    #: Bursts finished, and the gate of the next burst (one flood camera per test).
    bursts_done: ClassVar[asyncio.Queue[int]]
    more: ClassVar[asyncio.Event]

    async def connect(self) -> CameraInfo:
        return CameraInfo(id=f"hostile-flood:{self.url.host}", vendor="Test")

    async def events(self) -> AsyncIterator[CameraEvent]:  # type: ignore[override]
        options = self.options
        assert isinstance(options, FloodOptions)
        number = 0
        for burst in range(options.bursts):
            if burst:
                await self.more.wait()
                self.more.clear()
            for _ in range(options.count):
                # A tracker's detections: every object is an activity of its own.
                track = f"track-{number}"
                yield CameraEvent(kind=EventKind.PERSON, event_id=track, score=0.9)
                if options.shape == "pairs":
                    yield CameraEvent(kind=EventKind.PERSON, event_id=track, active=False)
                number += 1
                if number % 64 == 0:
                    await asyncio.sleep(0)  # the next read off the device's socket
            self.bursts_done.put_nowait(burst + 1)
        await asyncio.Event().wait()  # connected, and quiet


@pytest.fixture(autouse=True)
def flood_driver() -> None:
    register_driver("hostile-flood", FloodDriver)
    FloodDriver.bursts_done = asyncio.Queue()
    FloodDriver.more = asyncio.Event()


async def burst_done() -> int:
    async with asyncio.timeout(WAIT):
        return await FloodDriver.bursts_done.get()


async def test_a_subscriber_that_does_not_read_keeps_a_bounded_queue_and_counts_drops() -> None:
    async with camsdk.open("hostile-flood://porch?count=20000&shape=pairs") as cam:
        async with cam.events() as idle, cam.events() as reader:
            got = 0
            got_during_flood = asyncio.get_running_loop().create_future()

            async def read() -> None:
                nonlocal got
                async for _ in reader:
                    got += 1

            task = asyncio.create_task(read())
            await burst_done()  # the device was never made to wait for `idle`
            got_during_flood.set_result(got)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert got_during_flood.result() > 0  # the reader was served while the flood ran
    # 20,000 distinct starts and their ends reach every subscriber: all but the last
    # QUEUE of them are dropped, and counted, for the one that never reads.
    assert idle.dropped == 40_000 - QUEUE


@pytest.mark.parametrize("shape", ["starts", "pairs"])
async def test_pipeline_memory_does_not_grow_with_the_number_of_distinct_activities(
    shape: str,
) -> None:
    url = f"hostile-flood://porch?count=12000&bursts=2&shape={shape}"
    async with camsdk.open(url) as cam:
        async with cam.events() as idle:
            tracemalloc.start()
            try:
                await burst_done()
                after_first = tracemalloc.get_traced_memory()[0]
                FloodDriver.more.set()
                await burst_done()
                after_second = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            assert idle.dropped > 0
    # Another 12,000 activities (about 1 KiB each while remembered) add next to nothing.
    assert after_second - after_first < 1 * MIB


async def test_when_too_many_activities_are_open_the_oldest_are_ended_for_their_subscribers() -> (
    None
):
    async with camsdk.open("hostile-flood://porch?count=6000&shape=starts") as cam:
        async with cam.events(kinds={EventKind.PERSON}) as reader:
            starts: set[str] = set()
            ends: dict[str, str] = {}

            async def read_to_the_last_start() -> None:
                async for event in reader:
                    if event.active:
                        starts.add(event.event_id)
                        if event.event_id == "track-5999":
                            return
                    else:
                        ends[event.event_id] = event.extra.get("closed_by", "")

            async with asyncio.timeout(WAIT):
                await read_to_the_last_start()
    assert reader.dropped == 0
    assert len(starts) == 6000
    # Every activity the pipeline stopped tracking got its end, so none stays open forever.
    assert ends and set(ends.values()) == {"overflow"}
    assert set(ends) <= starts
    assert "track-0" in ends
