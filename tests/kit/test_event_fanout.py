"""`EventFanout`: one reader task for every subscriber, running while anyone listens."""

from __future__ import annotations

import asyncio

import pytest

from camsdk.driver import AuthenticationError, EventFanout, EventQueue

pytestmark = pytest.mark.anyio


class Reader:
    """A reader that counts its starts and stops and puts what it is handed."""

    def __init__(self) -> None:
        self.starts = 0
        self.stops = 0
        self.on_stop_calls = 0
        self.started = asyncio.Event()
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.fanout: EventFanout[EventQueue[str]] = EventFanout(
            self.run, name="test-reader", on_stop=self.stopped)

    async def run(self) -> None:
        self.starts += 1
        self.started.set()
        try:
            while True:
                item = await self.inbox.get()
                for queue in self.fanout.subscribers:
                    queue.put(item)
        finally:
            self.stops += 1

    def stopped(self) -> None:
        self.on_stop_calls += 1


async def test_the_first_subscriber_starts_the_reader_and_the_others_share_it() -> None:
    reader = Reader()
    async with reader.fanout.join(EventQueue()) as first, \
            reader.fanout.join(EventQueue()) as second:
        reader.inbox.put_nowait("motion")
        async with asyncio.timeout(5):
            assert await first.get() == "motion"
            assert await second.get() == "motion"
        assert reader.starts == 1 and reader.fanout.running


async def test_the_reader_stops_when_the_last_subscriber_leaves() -> None:
    reader = Reader()
    async with reader.fanout.join(EventQueue()):
        async with reader.fanout.join(EventQueue()):
            async with asyncio.timeout(5):
                await reader.started.wait()
        assert reader.fanout.running and reader.stops == 0
    assert not reader.fanout.running and not reader.fanout.subscribers
    assert reader.stops == 1 and reader.on_stop_calls == 1


async def test_fail_all_ends_every_subscriber_with_the_error() -> None:
    reader = Reader()
    refused = AuthenticationError("refused")
    async with reader.fanout.join(EventQueue()) as first, \
            reader.fanout.join(EventQueue()) as second:
        reader.fanout.fail_all(refused)
        for queue in (first, second):
            with pytest.raises(AuthenticationError) as info:
                await queue.get()
            assert info.value is refused


async def test_a_reader_that_ended_is_started_again_by_the_next_subscriber() -> None:
    starts = 0
    ended = asyncio.Event()

    async def run_once() -> None:
        nonlocal starts
        starts += 1
        ended.set()

    fanout: EventFanout[EventQueue[str]] = EventFanout(run_once, name="test-once")
    async with fanout.join(EventQueue()):
        async with asyncio.timeout(5):
            await ended.wait()
        assert not fanout.running
        ended.clear()
        async with fanout.join(EventQueue()):
            async with asyncio.timeout(5):
                await ended.wait()
    assert starts == 2
