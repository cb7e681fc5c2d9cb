"""Event-feed health: data received, never socket state.

A cloud event feed (a Pub/Sub pull loop, a websocket, a long poll) can look
connected and deliver nothing: a half-open TCP connection, a proxy that
holds the request, a subscription the service deleted. So health is data:
`FeedWatchdog` runs the feed and counts every message, and every heartbeat
or empty answer the service sends, as a sign of life (the feed calls
``beat()``). When nothing arrived for ``window`` seconds the feed is
cancelled and opened again after a capped, fully jittered backoff; a feed
that fails or ends is treated the same way. Where the vendor has a polling
API, ``poll`` runs every ``poll_interval`` seconds while the feed is down,
so events arrive late rather than never, and stops once the feed is live
again.

Each change of state (`FeedState`) goes to ``on_state(state, reason)``;
`connection_event` turns it into the `EventKind.CONNECTION` event cameras
report. An `AuthenticationError` from the feed or the poll stops everything
at once and is raised: no retry keeps a dead grant or a wrong password
knocking at a service that locks accounts.

``clock``, ``sleep`` and ``rng`` are injectable, so tests move time instead
of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._errors import AuthenticationError
from .._log import get_logger, scrub
from .._models import CameraEvent, EventKind

__all__ = ["FeedState", "FeedWatchdog", "connection_event"]

log = get_logger("camsdk.cloud.feed")

Beat = Callable[[], None]
Feed = Callable[[Beat], Awaitable[None]]
Poll = Callable[[], Awaitable[None]]
OnState = Callable[["FeedState", str], None]


class FeedState(str, enum.Enum):
    """Where a watched feed stands."""

    #: Opening, no data yet.
    STARTING = "starting"
    #: Data arrived within the window.
    LIVE = "live"
    #: Silent, failed or ended: being reopened (no polling API).
    DOWN = "down"
    #: Down, and the vendor's polling API fills in meanwhile.
    POLLING = "polling"
    #: Stopped for good (cancelled, or the account refused us).
    STOPPED = "stopped"


class _Silent(Exception):
    """No data for the whole window."""


class FeedWatchdog:
    """Runs ``feed(beat)`` and keeps it alive by data received (see the module docstring).

    ``feed`` is an async callable that opens the feed and reads it until it
    fails; it calls ``beat()`` for every message or heartbeat. It is
    cancelled when silent for ``window`` seconds. ``name`` appears in logs
    and events.
    """

    def __init__(
        self,
        feed: Feed,
        *,
        window: float,
        name: str = "feed",
        poll: Poll | None = None,
        poll_interval: float = 30.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        on_state: OnState | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if window <= 0 or poll_interval <= 0 or backoff_base <= 0 or backoff_cap <= 0:
            raise ValueError("window, poll_interval and the backoff must be positive")
        self._feed = feed
        self.window = window
        self.name = name
        self._poll = poll
        self.poll_interval = poll_interval
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._on_state = on_state
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._last = clock()
        self._poller: asyncio.Task[None] | None = None
        self._fatal: asyncio.Future[AuthenticationError] | None = None
        self.state = FeedState.STARTING
        #: Why the feed last went down ("" while it never did).
        self.reason = ""
        #: Times the feed was reopened, signs of life received, polls made.
        self.restarts = 0
        self.beats = 0
        self.polls = 0

    def __repr__(self) -> str:
        return f"<FeedWatchdog {self.name} {self.state.value} restarts={self.restarts}>"

    # -- signs of life ---------------------------------------------------------------------

    def beat(self) -> None:
        """The feed received data (a message, a heartbeat, an empty answer)."""
        self._last = self._clock()
        self.beats += 1
        if self.state is not FeedState.LIVE:
            self._stop_polling()
            self._set(FeedState.LIVE, "data received")

    @property
    def silent_for(self) -> float:
        """Seconds since the last sign of life."""
        return max(0.0, self._clock() - self._last)

    def _set(self, state: FeedState, reason: str) -> None:
        if state is self.state and state not in (FeedState.DOWN, FeedState.POLLING):
            return  # every failure is reported; a repeated LIVE is not news
        self.state = state
        if state in (FeedState.DOWN, FeedState.POLLING, FeedState.STOPPED):
            self.reason = reason
        log.debug("feed %s: %s (%s)", self.name, state.value, reason)
        if self._on_state is not None:
            try:
                self._on_state(state, reason)
            except Exception:  # a broken listener must not kill the feed
                log.exception("feed %s: state listener failed", self.name)

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the feed alive until cancelled; raise an `AuthenticationError` it meets."""
        self._fatal = asyncio.get_running_loop().create_future()
        attempt = 0
        try:
            while True:
                try:
                    await self._supervise()
                    reason = "the feed ended"
                except AuthenticationError as exc:
                    self._set(FeedState.STOPPED, f"{type(exc).__name__}: {scrub(str(exc))}")
                    raise
                except _Silent:
                    reason = f"no data for {self.window:g} s"
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    reason = f"{type(exc).__name__}: {scrub(str(exc))}"
                if self.state is FeedState.LIVE:
                    attempt = 0  # it worked for a while: start the backoff over
                self.restarts += 1
                log.info("feed %s down: %s", self.name, reason)
                self._set(FeedState.POLLING if self._poll is not None else FeedState.DOWN, reason)
                self._start_polling()
                cap = min(self._backoff_cap, self._backoff_base * 2 ** min(attempt, 16))
                attempt += 1
                await self._wait_or_fatal(self._sleep(self._rng() * cap))
        finally:
            await self._stop_polling_and_wait()
            if self.state is not FeedState.STOPPED:
                self._set(FeedState.STOPPED, "stopped")

    async def _supervise(self) -> None:
        """One life of the feed: until it fails, ends, or stays silent for the window."""
        self._last = self._clock()
        task = asyncio.ensure_future(self._feed(self.beat))
        try:
            while True:
                remaining = self._last + self.window - self._clock()
                if remaining <= 0:
                    raise _Silent
                timer = asyncio.ensure_future(self._sleep(remaining))
                try:
                    await self._first_of(task, timer)
                finally:
                    await _cancel(timer)
                if task.done():
                    task.result()  # the feed's own failure, or a normal end
                    return
        finally:
            await _cancel(task)

    async def _first_of(self, *tasks: asyncio.Future[Any]) -> None:
        assert self._fatal is not None
        waiting = {*tasks, self._fatal}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self._fatal.done():
            raise self._fatal.result()

    async def _wait_or_fatal(self, awaitable: Awaitable[None]) -> None:
        task = asyncio.ensure_future(awaitable)
        try:
            await self._first_of(task)
        finally:
            await _cancel(task)

    # -- polling fallback ------------------------------------------------------------------

    def _start_polling(self) -> None:
        if self._poll is None or (self._poller is not None and not self._poller.done()):
            return
        self._poller = asyncio.get_running_loop().create_task(
            self._polling(), name=f"camsdk-feed-poll-{self.name}")

    def _stop_polling(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()

    async def _stop_polling_and_wait(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            await _cancel(poller)

    async def _polling(self) -> None:
        assert self._poll is not None and self._fatal is not None
        while True:
            try:
                await self._poll()
                self.polls += 1
            except asyncio.CancelledError:
                raise
            except AuthenticationError as exc:
                if not self._fatal.done():
                    self._fatal.set_result(exc)
                return
            except Exception as exc:
                log.info("feed %s: poll failed: %s", self.name, scrub(str(exc)))
            await self._sleep(self.poll_interval)


async def _cancel(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def connection_event(
    camera_id: str, state: FeedState, reason: str = "", *, feed: str = "events",
    vendor: str = "",
) -> CameraEvent:
    """The `EventKind.CONNECTION` event that reports ``state`` of a camera's event feed."""
    return CameraEvent(
        kind=EventKind.CONNECTION, camera_id=camera_id, event_id=f"feed:{feed}",
        active=state is FeedState.LIVE, vendor=vendor, topic=f"feed/{feed}/{state.value}",
        extra={"feed": feed, "state": state.value, "reason": scrub(reason)},
    )
