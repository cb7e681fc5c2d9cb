"""Event-feed health is data received: silent feeds restart, polling fills in, auth stops it.

Time is a `ManualClock`: a window of minutes passes in microseconds, exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

import camsdk
from camsdk.cloud import FeedState, FeedWatchdog, connection_event

from ._clock import ManualClock

pytestmark = pytest.mark.anyio

WINDOW = 30.0


class ScriptedFeed:
    """A feed whose behaviour each test scripts: beats, silence, failures."""

    def __init__(self, clock: ManualClock, behaviour: Callable[[int], str]) -> None:
        self.clock = clock
        self.behaviour = behaviour
        self.opened = 0
        self.opened_at: list[float] = []

    async def __call__(self, beat: Callable[[], None]) -> None:
        self.opened += 1
        self.opened_at.append(self.clock.now)
        what = self.behaviour(self.opened)
        if what == "fail":
            raise camsdk.CameraUnreachableError("connection refused")
        if what == "auth":
            raise camsdk.ReauthRequiredError("grant revoked", reason="invalid_grant")
        if what == "heartbeat":
            while True:  # the service answers every 10 s, with or without messages
                beat()
                await self.clock.sleep(10.0)
        beat()  # "silent": one answer, then a half-open connection
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def running(watchdog: FeedWatchdog) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(watchdog.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, camsdk.CamError):
            await task


def make(clock: ManualClock, feed: ScriptedFeed, **kwargs: object) -> FeedWatchdog:
    return FeedWatchdog(feed, window=WINDOW, name="test", clock=clock.clock, sleep=clock.sleep,
                        rng=lambda: 1.0, backoff_base=1.0, backoff_cap=8.0,
                        **kwargs)  # type: ignore[arg-type]


async def test_a_feed_silent_for_its_window_is_restarted() -> None:
    clock = ManualClock()
    feed = ScriptedFeed(clock, lambda n: "silent")
    watchdog = make(clock, feed)
    async with running(watchdog):
        await clock.advance(WINDOW - 1)
        assert (feed.opened, watchdog.state) == (1, FeedState.LIVE)
        await clock.advance(1)
        assert watchdog.restarts == 1
        assert watchdog.reason == f"no data for {WINDOW:g} s"
        await clock.advance(1)  # the first backoff (rng 1.0 -> the full 1 s)
        assert feed.opened == 2


async def test_heartbeats_keep_a_quiet_feed_alive() -> None:
    clock = ManualClock()
    feed = ScriptedFeed(clock, lambda n: "heartbeat")
    watchdog = make(clock, feed)
    async with running(watchdog):
        await clock.advance(600)
    assert (feed.opened, watchdog.restarts) == (1, 0)
    assert watchdog.beats == 61


async def test_a_failing_feed_is_reopened_with_capped_backoff() -> None:
    clock = ManualClock()
    feed = ScriptedFeed(clock, lambda n: "fail")
    watchdog = make(clock, feed)
    async with running(watchdog):
        await clock.advance(40)
        assert watchdog.state is FeedState.DOWN
    gaps = [b - a for a, b in zip(feed.opened_at, feed.opened_at[1:], strict=False)]
    assert gaps[:5] == [1.0, 2.0, 4.0, 8.0, 8.0]


async def test_polling_fills_in_while_the_feed_is_down_and_stops_once_it_is_back() -> None:
    clock = ManualClock()
    # Down for the first three openings, then a feed with heartbeats.
    feed = ScriptedFeed(clock, lambda n: "fail" if n <= 3 else "heartbeat")
    polls: list[float] = []

    async def poll() -> None:
        polls.append(clock.now)

    states: list[FeedState] = []
    watchdog = make(clock, feed, poll=poll, poll_interval=2.0,
                    on_state=lambda state, reason: states.append(state))
    async with running(watchdog):
        await clock.advance(6.5)  # reopened at 1, 3 (fails) and 7 s: polls meanwhile
        polled_while_down = len(polls)
        await clock.advance(60)
        assert watchdog.state is FeedState.LIVE
    assert polled_while_down >= 3
    assert len(polls) == polled_while_down  # none once the feed was back
    assert states[:2] == [FeedState.POLLING, FeedState.POLLING]
    assert states[-2:] == [FeedState.LIVE, FeedState.STOPPED]


async def test_an_authentication_error_stops_the_feed_at_once_without_retry() -> None:
    clock = ManualClock()
    feed = ScriptedFeed(clock, lambda n: "auth")
    watchdog = make(clock, feed)
    with pytest.raises(camsdk.ReauthRequiredError):
        await watchdog.run()
    await clock.advance(600)
    assert feed.opened == 1
    assert watchdog.state is FeedState.STOPPED


async def test_an_authentication_error_while_polling_stops_everything() -> None:
    clock = ManualClock()
    feed = ScriptedFeed(clock, lambda n: "fail")

    async def poll() -> None:
        raise camsdk.AuthenticationError("the service refused the token")

    watchdog = make(clock, feed, poll=poll)
    task = asyncio.ensure_future(watchdog.run())
    await clock.advance(0.5)
    assert task.done()
    with pytest.raises(camsdk.AuthenticationError):
        task.result()
    assert feed.opened == 1


async def test_a_cancelled_watchdog_leaves_no_feed_or_poll_running() -> None:
    clock = ManualClock()
    feed = ScriptedFeed(clock, lambda n: "fail")

    async def poll() -> None:
        pass

    watchdog = make(clock, feed, poll=poll)
    async with running(watchdog):
        await clock.advance(3)
    assert watchdog.state is FeedState.STOPPED
    assert clock.sleepers == 0


def test_state_changes_become_connection_events() -> None:
    live = connection_event("nest:cam", FeedState.LIVE, "data received", vendor="nest")
    down = connection_event("nest:cam", FeedState.DOWN, "no data for 30 s")
    assert live.kind is camsdk.EventKind.CONNECTION and live.active
    assert not down.active and down.extra["state"] == "down"
    assert live.event_id == down.event_id == "feed:events"
