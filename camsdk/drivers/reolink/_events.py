"""Reolink events: one poller per device, woken at once by ONVIF notifications.

The JSON API has no push channel, only state: ``GetMdState`` (motion) and
``GetAiState`` (people, vehicle, dog_cat, face, package, visitor ... each
with ``alarm_state`` and ``support``). `EventHub` polls the state of every
watched channel in one batched POST and turns each change into a start or
an end (`AI_KINDS`). Both commands leave battery cameras asleep.

When the device's ONVIF service is on (``GetNetPort``), the hub also
subscribes to its PullPoint notifications through camsdk's own ``onvif://``
driver and polls *as soon as* a notification arrives, so an event is seen
within one round trip instead of up to one poll interval; the ONVIF
notification is only a trigger, the JSON state stays the truth (it names
the channel and the AI type on every firmware, which Reolink's ONVIF topics
do not). Without ONVIF, or while it fails, the hub polls every
``poll_interval`` seconds.

Each event says how it was seen: ``extra["source"]`` is ``"onvif"`` (a
notification triggered the poll) or ``"poll"``, and ``extra["latency_ms"]``
bounds the delay between the change on the device and the state read that
saw it (trigger to read, or the previous read to this one). Failing polls
are retried with capped, fully jittered backoff; a wrong password stops
everything with `AuthenticationError` (no retry: accounts get locked).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from camsdk.driver import (
    AuthenticationError,
    CameraEvent,
    CamError,
    Credentials,
    EventKind,
    EventQueue,
    UnsupportedCapabilityError,
    backoff_delay,
    get_logger,
)

from ._api import ReolinkSession
from ._model import read_ai_state, read_md_state

__all__ = ["AI_KINDS", "ChannelFeed", "EventHub", "kind_of"]

log = get_logger("camsdk.reolink.events")

#: Reolink state names and the kinds they map to; ``md`` is ``GetMdState``.
AI_KINDS: dict[str, EventKind] = {
    "md": EventKind.MOTION,
    "people": EventKind.PERSON,
    "vehicle": EventKind.VEHICLE,
    "dog_cat": EventKind.ANIMAL,
    "face": EventKind.FACE_DETECTED,
    "package": EventKind.PACKAGE,
    "visitor": EventKind.DOORBELL,
    # Battery cameras report their PIR as AI type "other".
    "other": EventKind.MOTION,
}
#: Events kept for a subscriber that falls behind (the oldest go first).
FEED_SIZE = 1024
_IDLE_FACTOR = 5.0
_IDLE_POLL_CAP = 30.0


def kind_of(code: str) -> EventKind:
    """The `EventKind` of a Reolink state name (unknown names are `EventKind.OTHER`)."""
    return AI_KINDS.get(code, EventKind.OTHER)


class ChannelFeed(EventQueue[CameraEvent]):
    """One subscriber's events of one channel (an async iterator; closing it unsubscribes)."""

    def __init__(self, hub: EventHub, channel: int) -> None:
        super().__init__(FEED_SIZE, on_close=lambda: hub.unsubscribe(self))
        self.hub = hub
        self.channel = channel


@dataclass(slots=True)
class _Activity:
    event_id: str
    started: float


@dataclass(slots=True)
class _Watch:
    feeds: list[ChannelFeed] = field(default_factory=list)
    states: dict[str, _Activity] = field(default_factory=dict)
    ai: bool = True  # False once the device said it has no GetAiState for this channel


OnvifOpener = Callable[[], Any]


class EventHub:
    """The event poller of one device session (see the module docstring)."""

    def __init__(
        self,
        session: ReolinkSession,
        *,
        poll_interval: float,
        backoff_base: float,
        backoff_cap: float,
        request_timeout: float,
        onvif: tuple[str, Credentials | None, Any] | None = None,
    ) -> None:
        self.session = session
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.request_timeout = request_timeout
        self._onvif = onvif
        self._watches: dict[int, _Watch] = {}
        self._poller: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._trigger = asyncio.Event()
        self._triggered_at: float | None = None
        self._ids = itertools.count(1)
        self._last_read: float | None = None
        self._closed = False
        #: ``"onvif"`` while notifications arrive, else ``"poll"``.
        self.source = "poll"
        #: ONVIF listener state: off, connecting, active, failed or refused.
        self.onvif_state = "off" if onvif is None else "connecting"
        self.polls = 0
        self.notifications = 0
        self.last_rtt_ms: float | None = None
        self.failures = 0

    # -- subscribers -------------------------------------------------------------------------

    def subscribe(self, channel: int) -> ChannelFeed:
        """A feed of ``channel``'s events; the first feed starts the poller."""
        if self._closed:
            raise CamError("the event hub is closed", scheme=self.session.scheme,
                           url=self.session.shown)
        feed = ChannelFeed(self, channel)
        self._watches.setdefault(channel, _Watch()).feeds.append(feed)
        loop = asyncio.get_running_loop()
        if self._poller is None or self._poller.done():
            self._poller = loop.create_task(self._poll_loop(), name="camsdk-reolink-poll")
        if self._onvif is not None and (self._listener is None or self._listener.done()):
            self._listener = loop.create_task(self._onvif_loop(), name="camsdk-reolink-onvif")
        self._trigger.set()  # read the new channel's state at once
        return feed

    async def unsubscribe(self, feed: ChannelFeed) -> None:
        """Forget ``feed``; stop the poller when nobody watches any more."""
        watch = self._watches.get(feed.channel)
        if watch is not None and feed in watch.feeds:
            watch.feeds.remove(feed)
            if not watch.feeds:
                del self._watches[feed.channel]
        if not self._watches:
            await self._stop()

    async def _stop(self) -> None:
        tasks = [t for t in (self._poller, self._listener) if t is not None]
        self._poller = self._listener = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.source = "poll"
        if self._onvif is not None:
            self.onvif_state = "connecting"

    async def aclose(self) -> None:
        """End every feed and stop the tasks. Idempotent."""
        self._closed = True
        for watch in self._watches.values():
            for feed in watch.feeds:
                feed.fail(StopAsyncIteration())
        self._watches.clear()
        await self._stop()

    def _publish(self, channel: int, event: CameraEvent) -> None:
        watch = self._watches.get(channel)
        if watch is not None:
            for feed in watch.feeds:
                feed.put(event)

    def _broadcast(self, event: CameraEvent) -> None:
        for channel in list(self._watches):
            self._publish(channel, event)

    def _fail_all(self, error: BaseException) -> None:
        for watch in self._watches.values():
            for feed in watch.feeds:
                feed.fail(error)

    # -- polling -----------------------------------------------------------------------------

    def trigger(self, source: str = "onvif") -> None:
        """Poll now (an ONVIF notification arrived)."""
        if self._triggered_at is None:
            self._triggered_at = time.monotonic()
        self.notifications += source == "onvif"
        self._trigger.set()

    def _wait_time(self) -> float:
        if self.source == "poll" or any(w.states for w in self._watches.values()):
            return self.poll_interval
        # Notifications wake us on a change; a slow poll still catches a lost one.
        return min(_IDLE_POLL_CAP, self.poll_interval * _IDLE_FACTOR)

    async def _poll_loop(self) -> None:
        attempt = 0
        failing = False
        while self._watches:
            try:
                await self._poll_once()
                attempt = 0
                if failing:
                    failing = False
                    self._broadcast(self._connection(True, "state polling recovered"))
            except AuthenticationError as exc:
                self._fail_all(exc)
                return
            except CamError as exc:
                self.failures += 1
                if not failing:
                    failing = True
                    self._broadcast(self._connection(False, f"{type(exc).__name__}: {exc}"))
                log.debug("%s: state poll failed: %s", self.session.shown, exc)
                delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait_time()):
                    await self._trigger.wait()

    def _connection(self, active: bool, reason: str) -> CameraEvent:
        return CameraEvent(
            kind=EventKind.CONNECTION, active=active, vendor="reolink", topic="events/poll",
            extra={"reason": reason[:200], "source": "poll"},
        )

    async def _poll_once(self) -> None:
        self._trigger.clear()
        triggered, self._triggered_at = self._triggered_at, None
        plan: list[tuple[int, int, int | None]] = []
        commands: list[dict[str, Any]] = []
        for channel in sorted(self._watches):
            md_at = len(commands)
            commands.append({"cmd": "GetMdState", "action": 0, "param": {"channel": channel}})
            ai_at = None
            if self._watches[channel].ai:
                ai_at = len(commands)
                commands.append({"cmd": "GetAiState", "action": 0,
                                 "param": {"channel": channel}})
            plan.append((channel, md_at, ai_at))
        sent = time.monotonic()
        answers = await self.session.batch(commands, action="GetMdState",
                                           timeout=self.request_timeout)
        read = time.monotonic()
        self.polls += 1
        self.last_rtt_ms = (read - sent) * 1000.0
        if triggered is not None:
            source, since = "onvif", triggered
        else:
            source, since = "poll", self._last_read if self._last_read is not None else sent
        self._last_read = read
        latency = round((read - since) * 1000.0, 1)
        for channel, md_at, ai_at in plan:
            watch = self._watches.get(channel)
            if watch is None:
                continue  # unsubscribed while the poll was in flight
            states: dict[str, bool] = {}
            md = answers[md_at]
            if md.ok:
                motion = read_md_state(md.value)
                if motion is not None:
                    states["md"] = motion
            if ai_at is not None:
                ai = answers[ai_at]
                if ai.ok:
                    states.update(read_ai_state(ai.value))
                elif ai.rsp_code in (-9, -26):
                    watch.ai = False  # older cameras: no AI, do not ask again
            self._apply(channel, watch, states, source, latency)

    def _apply(self, channel: int, watch: _Watch, states: dict[str, bool], source: str,
               latency: float) -> None:
        now = time.monotonic()
        for code, on in states.items():
            activity = watch.states.get(code)
            if on and activity is None:
                activity = watch.states[code] = _Activity(f"ch{channel}-{code}-{next(self._ids)}",
                                                          now)
                self._publish(channel, self._event(channel, code, activity, True, source,
                                                   latency))
            elif not on and activity is not None:
                del watch.states[code]
                self._publish(channel, self._event(channel, code, activity, False, source,
                                                   latency))

    def _event(self, channel: int, code: str, activity: _Activity, active: bool,
               source: str, latency: float) -> CameraEvent:
        command = "GetMdState" if code == "md" else "GetAiState"
        return CameraEvent(
            kind=kind_of(code),
            event_id=activity.event_id,
            active=active,
            vendor="reolink",
            topic=f"{command}/{code}",
            extra={"code": code, "channel": channel, "source": source, "latency_ms": latency},
        )

    # -- the ONVIF trigger -------------------------------------------------------------------

    async def _onvif_loop(self) -> None:
        """Listen to ONVIF notifications (through ``onvif://``) and poll on each."""
        import camsdk

        assert self._onvif is not None
        url, credentials, config = self._onvif
        attempt = 0
        while True:
            self.onvif_state = "connecting"
            try:
                async with camsdk.open(url, credentials=credentials, config=config) as cam:
                    async with cam.events() as notes:
                        self.onvif_state = "active"
                        self.source = "onvif"
                        async for note in notes:
                            if note.kind is EventKind.CONNECTION:
                                # A refused login ends ``notes`` with AuthenticationError.
                                self.source = "onvif" if note.active else "poll"
                                continue
                            if note.kind is EventKind.STREAM_STATE:
                                continue
                            attempt = 0
                            self.source = "onvif"
                            self.trigger("onvif")
            except (AuthenticationError, UnsupportedCapabilityError) as exc:
                # The JSON login works but ONVIF refuses it (another account, ONVIF
                # users off) or has no PullPoint: polling alone, no retry loop.
                self.onvif_state = "refused"
                self.source = "poll"
                log.info("%s: ONVIF notifications unavailable (%s); polling only",
                         self.session.shown, exc)
                return
            except CamError as exc:
                self.onvif_state = "failed"
                self.source = "poll"
                log.debug("%s: ONVIF notifications failed: %s", self.session.shown, exc)
            delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
            attempt += 1
            await asyncio.sleep(max(delay, 0.05))

    def summary(self) -> dict[str, Any]:
        """The source in use and what was measured, for the ``event_source`` extension."""
        return {
            "source": self.source,
            "onvif": self.onvif_state,
            "poll_interval": self.poll_interval,
            "polls": self.polls,
            "notifications": self.notifications,
            "last_rtt_ms": None if self.last_rtt_ms is None else round(self.last_rtt_ms, 2),
            "failures": self.failures,
            "channels": sorted(self._watches),
        }
