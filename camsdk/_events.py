"""The event pipeline: driver events -> normalise -> coalesce/dedupe -> fan-out.

One `EventPipeline` per camera (or per hub) turns whatever a driver yields
into the normalised stream every consumer sees:

- **normalise**: fill ``camera_id`` and ``event_id``, clamp ``score``, stamp
  ``ended_at`` on ends;
- **coalesce**: the start, updates and end of one activity share one
  ``event_id`` and ``started_at``. An activity's identity is
  ``(camera_id, kind, zone, topic, driver event id)``;
- **dedupe**: devices resend state (ONVIF re-announces ``IsMotion=true``
  every second); a resend of the same identity and state within
  ``dedupe_window`` seconds of the previous one is dropped;
- **hold**: an activity whose end never comes is closed with a synthesized
  end (``extra["closed_by"] == "hold"``) ``hold`` seconds after it was last
  seen; at most 4096 are tracked at once, and beyond that the least recently
  seen is closed at once (``"overflow"``), so a device that invents new
  identities in a flood cannot grow the pipeline's memory;
- **fan-out**: each subscriber owns a bounded queue; when it falls behind the
  oldest events are dropped and counted (``EventSubscription.dropped``).
  Publishing never awaits a subscriber, so a slow one delays nobody.

The driver's event source is started lazily, when the first subscriber
arrives, and stopped when the last one leaves: no device connection that
nobody asked for. When the source fails the pipeline publishes a
`EventKind.CONNECTION` event (``active=False``, redacted ``extra["reason"]``)
and retries with capped, jittered exponential backoff while subscribers
remain. Two failures are not retried: `UnsupportedCapabilityError` (retrying
cannot help; every later subscription ends with it too) and
`AuthenticationError` (a wrong password sent again and again keeps a device's
lockout alive, or starts one). An authentication failure is published as a
last CONNECTION event (``extra["final"] is True``), then every subscription
ends with the error; a later subscription tries the device once more (the
caller asked again; the pipeline never does on its own).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._errors import AuthenticationError, CameraClosedError, UnsupportedCapabilityError
from ._lifecycle import AsyncResource
from ._log import get_logger, scrub
from ._models import CameraEvent, EventKind

__all__ = [
    "STATE_KINDS",
    "EventPipeline",
    "EventSubscription",
    "backoff_delay",
    "raise_if_cancelling",
]

_log = get_logger(__name__)
# Events handled before the source loop yields to the event loop once.
_BURST = 64

#: Kinds that report a state (connected, streaming) rather than an activity
#: with a start and an end: they are never coalesced, deduplicated or closed
#: by the hold timer, and zone / score filters do not apply to them.
STATE_KINDS: frozenset[EventKind] = frozenset({EventKind.CONNECTION, EventKind.STREAM_STATE})
_CONNECTION = EventKind.CONNECTION
_STREAM_STATE = EventKind.STREAM_STATE

# How long a stopping source may take to close before we stop waiting for it.
_SOURCE_CLOSE_TIMEOUT = 5.0
# Open activities tracked, and ended ones remembered for deduplication. Time
# alone bounds neither: a flood of fresh identities would grow them at its rate.
_MAX_OPEN = 4096
_MAX_ENDED = 4096

_Identity = tuple[str, str, str, str, str]  # camera, kind value, zone, topic, driver id


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): full jitter, capped.

    Full jitter (a uniform draw below the exponential ceiling) spreads the
    reconnects of many clients after a shared outage instead of synchronising
    them.
    """
    ceiling = min(cap, base * (2.0 ** min(attempt, 30)))
    return ceiling * rng()


def raise_if_cancelling(exc: BaseException) -> None:
    """Re-raise cancellation that an ``except Exception`` handler caught in disguise.

    A context manager's ``__aexit__`` that fails while a task is being
    cancelled replaces the `CancelledError` with its own exception; a retry
    loop that catches ``Exception`` would then swallow the cancellation and
    never stop. Call this first in such handlers.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


def _utcnow() -> datetime:
    return datetime.now(UTC)


_new_object = object.__new__
_set = object.__setattr__


def _evolve(event: CameraEvent, update: dict[str, Any]) -> CameraEvent:
    """``event.model_copy(update=update)`` at half the cost (it runs for most events).

    Same result as pydantic's copy (no validation either): a new instance with
    the updated ``__dict__`` and fields-set; models with extras or private
    attributes take pydantic's own path.
    """
    if event.__pydantic_extra__ is not None or event.__pydantic_private__ is not None:
        return event.model_copy(update=update)
    new: CameraEvent = _new_object(type(event))
    fields = event.__dict__.copy()
    fields.update(update)
    _set(new, "__dict__", fields)
    _set(new, "__pydantic_fields_set__", event.__pydantic_fields_set__.union(update))
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


@dataclass(slots=True)
class _Track:
    """One open activity (a start seen, its end not yet)."""

    event_id: str
    started_at: datetime
    last_seen: float
    start: CameraEvent


class EventSubscription(AsyncResource):
    """One consumer's view of an `EventPipeline`: an async iterator of `CameraEvent`.

    Use it as an async context manager so it is always released::

        async with pipeline.subscribe(kinds={EventKind.PERSON}) as sub:
            async for event in sub:
                ...

    The queue is bounded; when the consumer falls behind, the oldest events
    are discarded and counted in `dropped`. Filters: ``kinds``, ``cameras``,
    ``zones`` and ``min_score``. Events without a score pass ``min_score``
    (a plain motion or doorbell event has no confidence to compare), and the
    update and end of an activity pass whenever its start passed, so a
    consumer never sees a start without its end. Zone and score filters do
    not apply to `STATE_KINDS`.
    """

    __slots__ = (
        "_cameras",
        "_closed",
        "_error",
        "_kinds",
        "_min_score",
        "_passed",
        "_pipeline",
        "_queue",
        "_unfiltered",
        "_waiter",
        "_zones",
        "dropped",
        "maxsize",
    )

    def __init__(
        self,
        pipeline: EventPipeline,
        *,
        maxsize: int,
        kinds: frozenset[EventKind] | None,
        cameras: frozenset[str] | None,
        min_score: float | None,
        zones: frozenset[str] | None,
    ) -> None:
        self._pipeline = pipeline
        self.maxsize = maxsize
        #: Events this subscriber lost because its queue was full.
        self.dropped = 0
        self._queue: deque[CameraEvent] = deque(maxlen=maxsize)
        self._kinds = kinds
        self._cameras = cameras
        self._min_score = min_score
        self._zones = zones
        self._unfiltered = kinds is None and cameras is None and min_score is None and not zones
        self._passed: set[str] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._error: BaseException | None = None

    @property
    def closed(self) -> bool:
        """Whether the subscription has ended (queued events may still be read)."""
        return self._closed

    @property
    def pending(self) -> int:
        """Events queued and not yet read."""
        return len(self._queue)

    def _accepts(self, event: CameraEvent) -> bool:
        if self._kinds is not None and event.kind not in self._kinds:
            return False
        if self._cameras is not None and event.camera_id not in self._cameras:
            return False
        if event.kind in STATE_KINDS:
            return True
        if self._zones and event.zone not in self._zones:
            return False
        if self._min_score is None:
            return True
        if event.event_id in self._passed:
            if not event.active:
                self._passed.discard(event.event_id)
            return True
        if event.active and (event.score is None or event.score >= self._min_score):
            self._passed.add(event.event_id)
            return True
        return False

    def _end(self, error: BaseException | None = None) -> None:
        """End the subscription from the pipeline's side; queued events stay readable."""
        self._closed = True
        self._error = error
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> CameraEvent:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None


    async def aclose(self) -> None:
        """Stop receiving; discard queued events. The last subscriber stops the source."""
        if self._closed and self not in self._pipeline._subs:
            return
        self._end()
        self._queue.clear()
        await self._pipeline._unsubscribe(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<EventSubscription {state} pending={len(self._queue)} dropped={self.dropped}>"


class EventPipeline(AsyncResource):
    """Normalises, coalesces, deduplicates and fans out the events of a camera.

    ``source`` is called (lazily, when the first subscriber arrives) to get
    the driver's raw event iterator; ``None`` means events only come from
    `publish`. ``hold`` closes activities whose end never arrives,
    ``dedupe_window`` drops resends, ``queue_size`` is the default per-subscriber
    queue length, ``clock`` (monotonic seconds) is injectable so tests can move
    time with `tick` instead of sleeping. The constructor does no I/O and
    starts no task.
    """

    def __init__(
        self,
        *,
        camera_id: str,
        source: Callable[[], AsyncIterator[CameraEvent]] | None,
        hold: float = 30.0,
        dedupe_window: float = 2.0,
        queue_size: int = 256,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        recover_after: float = 5.0,
    ) -> None:
        if hold <= 0 or dedupe_window < 0 or queue_size < 1:
            raise ValueError("hold must be > 0, dedupe_window >= 0 and queue_size >= 1")
        self.camera_id = camera_id
        self.hold = hold
        self.dedupe_window = dedupe_window
        self.queue_size = queue_size
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        #: A restarted source that runs this long without failing counts as recovered.
        self.recover_after = recover_after
        self._source = source
        self._clock = clock
        # Copy-on-write tuple: fan-out iterates it while subscribers come and go.
        self._subs: tuple[EventSubscription, ...] = ()
        # Open activities, least recently seen first. ``hold`` is the same for
        # all, so this is also deadline order: one timer, armed for the first
        # entry, serves every activity (O(1) per event instead of a timer each).
        self._open: OrderedDict[_Identity, _Track] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        self._last_prune = -math.inf
        # Recently ended identities -> (clock time, event_id), oldest first, for
        # dropping resent ends; pruned after max(dedupe_window, hold).
        self._ended: OrderedDict[_Identity, tuple[float, str]] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False
        self._fatal: BaseException | None = None
        self._first: AsyncIterator[CameraEvent] | None = None
        # The driver refused to open its iterator at subscribe time: the task reports it.
        self._first_error: AuthenticationError | None = None
        self._seq = itertools.count(1)
        self._id_prefix = f"{random.getrandbits(32):08x}"
        #: Events accepted from the source or `publish`.
        self.received = 0
        #: Resends dropped by deduplication.
        self.duplicates = 0
        #: Activities closed by the hold timer.
        self.expired = 0
        #: Activities closed early because too many were open at once.
        self.overflowed = 0

    # -- subscribers -----------------------------------------------------

    @property
    def subscribers(self) -> int:
        """Number of live subscriptions."""
        return len(self._subs)

    @property
    def source_running(self) -> bool:
        """Whether the driver's event source task is currently running."""
        return self._task is not None and not self._task.done()

    def subscribe(
        self,
        *,
        kinds: Collection[EventKind] | None = None,
        cameras: Collection[str] | None = None,
        min_score: float | None = None,
        zones: Collection[str] | None = None,
        queue_size: int | None = None,
    ) -> EventSubscription:
        """Add a subscriber; the first one starts the source. Call from the event loop."""
        if self._closed:
            raise CameraClosedError("the event pipeline is closed")
        size = self.queue_size if queue_size is None else queue_size
        if size < 1:
            raise ValueError("queue_size must be >= 1")
        sub = EventSubscription(
            self,
            maxsize=size,
            kinds=frozenset(EventKind(k) for k in kinds) if kinds is not None else None,
            cameras=frozenset(cameras) if cameras is not None else None,
            min_score=min_score,
            zones=frozenset(zones) if zones else None,
        )
        if self._fatal is not None:
            sub._end(self._fatal)
            return sub
        self._subs = (*self._subs, sub)
        if self._source is not None and not self.source_running:
            # Open the driver's iterator now, not in the task, so the device
            # side is listening before `subscribe` returns: an event that
            # happens right after subscribing is not lost.
            try:
                self._first = self._source()
            except UnsupportedCapabilityError as exc:
                self._fatal = exc
                for s in self._subs:
                    s._end(exc)
                return sub
            except AuthenticationError as exc:  # reported by the task, never retried
                self._first, self._first_error = None, exc
            except Exception:  # the task retries and reports it as a CONNECTION event
                self._first = None
            self._task = asyncio.get_running_loop().create_task(
                self._run_source(), name=f"camsdk-events-{self.camera_id}"
            )
        return sub

    async def _unsubscribe(self, sub: EventSubscription) -> None:
        self._subs = tuple(s for s in self._subs if s is not sub)
        if not self._subs:
            await self._stop_source()

    async def _stop_source(self) -> None:
        task, self._task = self._task, None
        first, self._first = self._first, None
        self._first_error = None
        if first is not None:
            # Opened by `subscribe` but the task never got to iterate it.
            await _aclose_quietly(first)
        if task is None or task.done():
            return
        task.cancel()
        # Bounded: a driver whose iterator ignores cancellation is abandoned, not awaited.
        done, _ = await asyncio.wait({task}, timeout=_SOURCE_CLOSE_TIMEOUT)
        if not done:
            _log.warning("event source of %s did not stop in time", self.camera_id)

    # -- publishing --------------------------------------------------------

    async def publish(self, event: CameraEvent) -> None:
        """Inject ``event`` as if the driver had produced it. Never waits for a subscriber.

        Events published after `aclose` are ignored.
        """
        if self._closed:
            _log.debug("event published to a closed pipeline ignored: %s", event.kind.value)
            return
        self._ingest(event)

    def publish_nowait(self, event: CameraEvent) -> None:
        """Synchronous `publish`, for callbacks that cannot await."""
        if not self._closed:
            self._ingest(event)

    def tick(self) -> int:
        """Close every activity whose hold has expired by ``clock``; return how many.

        The pipeline also does this on its own with event-loop timers; `tick`
        lets a test (or a driver with its own clock) advance time explicitly.
        """
        return self._close_expired(self._clock())

    @property
    def open_events(self) -> int:
        """Activities started and not yet ended."""
        return len(self._open)

    def _fan_out(self, event: CameraEvent) -> None:
        # The hot path: `EventSubscription._offer`, inlined (it runs once per
        # event per subscriber). Never awaits, so no subscriber can delay another.
        for sub in self._subs:
            if sub._unfiltered or sub._accepts(event):
                queue = sub._queue
                if len(queue) == sub.maxsize:
                    sub.dropped += 1  # the deque's maxlen drops the oldest
                queue.append(event)
                waiter = sub._waiter
                if waiter is not None:
                    sub._waiter = None
                    if not waiter.done():
                        waiter.set_result(None)

    def _ingest(self, event: CameraEvent) -> None:
        self.received += 1
        update: dict[str, Any] = {}
        camera_id = event.camera_id or self.camera_id
        if not event.camera_id:
            update["camera_id"] = camera_id
        score = event.score
        # Validation keeps scores in range, but drivers may build events with
        # model_construct for speed; never let a NaN or 1.7 reach a consumer.
        if score is not None and not 0.0 <= score <= 1.0:
            update["score"] = None if math.isnan(score) else min(1.0, max(0.0, score))
        kind = event.kind
        # Identity checks and ``_value_``: enum hashing and ``.value`` are
        # Python-level calls, and this runs for every event.
        if kind is _CONNECTION or kind is _STREAM_STATE:
            if not event.event_id:
                update["event_id"] = f"{self._id_prefix}-{next(self._seq)}"
            self._fan_out(_evolve(event, update) if update else event)
            return
        key: _Identity = (camera_id, kind._value_, event.zone or "", event.topic, event.event_id)
        now = self._clock()
        if now - self._last_prune >= 1.0:
            self._prune_ended(now)
        if event.active:
            track = self._open.get(key)
            if track is not None:
                duplicate = now - track.last_seen < self.dedupe_window
                # A resend proves the activity is still on: it extends the hold.
                track.last_seen = now
                self._open.move_to_end(key)
                if duplicate:
                    self.duplicates += 1
                    return
                if event.event_id != track.event_id:
                    update["event_id"] = track.event_id
                if event.started_at != track.started_at:
                    update["started_at"] = track.started_at
                self._fan_out(_evolve(event, update) if update else event)
                return
            if not event.event_id:
                update["event_id"] = self._derive_id(camera_id, event)
            if event.ended_at is not None:
                update["ended_at"] = None
            out = _evolve(event, update) if update else event
            if len(self._open) >= _MAX_OPEN:
                self._close_by_hold(next(iter(self._open)), closed_by="overflow")
            self._open[key] = _Track(out.event_id, out.started_at, now, out)
            if self._timer is None:
                self._arm_timer(self.hold)
            self._ended.pop(key, None)
            self._fan_out(out)
            return
        # An end.
        track = self._open.pop(key, None)
        if track is None:
            seen = self._ended.get(key)
            if seen is not None:
                # Resent end (or the real end after the hold closed it): drop,
                # and keep remembering so periodic "still off" resends stay quiet.
                self._remember_end(key, now, seen[1])
                self.duplicates += 1
                return
            # An end whose start we never saw (subscribed mid-activity): pass it on.
            if not event.event_id:
                update["event_id"] = self._derive_id(camera_id, event)
        else:
            if event.event_id != track.event_id:
                update["event_id"] = track.event_id
            if event.started_at != track.started_at:
                update["started_at"] = track.started_at
        if event.ended_at is None:
            update["ended_at"] = event.received_at
        out = _evolve(event, update) if update else event
        self._remember_end(key, now, out.event_id)
        self._fan_out(out)

    def _derive_id(self, camera_id: str, event: CameraEvent) -> str:
        # Stable for one activity: the same inputs always give the same id, so
        # two bridges (or a restarted one) watching one device agree on it.
        text = (
            f"{camera_id}|{event.kind._value_}|{event.zone or ''}|{event.topic}|"
            f"{event.started_at.isoformat()}"
        )
        digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        return f"{event.kind._value_}-{digest}"

    def _prune_ended(self, now: float) -> None:
        self._last_prune = now
        horizon = max(self.dedupe_window, self.hold)
        ended = self._ended
        while ended:
            key, (seen, _) = next(iter(ended.items()))
            if now - seen < horizon:
                break
            del ended[key]

    def _arm_timer(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(delay, 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._closed:
            self._close_expired(self._clock())

    def _close_expired(self, now: float) -> int:
        """Close the expired activities at the front; re-arm the timer for the next one."""
        closed = 0
        open_ = self._open
        while open_:
            key, track = next(iter(open_.items()))
            remaining = track.last_seen + self.hold - now
            if remaining > 0:
                # Resends moved deadlines back; the timer may have fired early
                # for an activity that ended meanwhile: just wait for the front.
                if self._timer is None:
                    self._arm_timer(remaining)
                break
            self._close_by_hold(key)
            closed += 1
        return closed

    def _remember_end(self, key: _Identity, now: float, event_id: str) -> None:
        ended = self._ended
        ended[key] = (now, event_id)
        ended.move_to_end(key)
        if len(ended) > _MAX_ENDED:
            ended.popitem(last=False)

    def _close_by_hold(self, key: _Identity, closed_by: str = "hold") -> None:
        track = self._open.pop(key, None)
        if track is None:
            return
        if closed_by == "hold":
            self.expired += 1
        else:
            self.overflowed += 1
        now_utc = _utcnow()
        end = _evolve(
            track.start,
            {
                "active": False,
                "ended_at": now_utc,
                "received_at": now_utc,
                "extra": {**track.start.extra, "closed_by": closed_by},
            },
        )
        self._remember_end(key, self._clock(), track.event_id)
        self._fan_out(end)

    # -- the driver's source -------------------------------------------------

    def _connection_event(self, active: bool, reason: str, **extra: Any) -> CameraEvent:
        return CameraEvent(
            kind=EventKind.CONNECTION,
            camera_id=self.camera_id,
            event_id=f"{self._id_prefix}-{next(self._seq)}",
            active=active,
            score=None,
            topic="events",
            snapshot=None,
            extra={"reason": reason, "source": "events", **extra},
        )

    def _mark_recovered(self) -> None:
        if self._failing and not self._closed:
            self._failing = False
            self._ingest(self._connection_event(True, "event source recovered"))

    async def _run_source(self) -> None:
        assert self._source is not None
        loop = asyncio.get_running_loop()
        attempt = 0
        while self._subs and not self._closed:
            recovered: asyncio.TimerHandle | None = None
            try:
                error, self._first_error = self._first_error, None
                if error is not None:
                    raise error
                iterator, self._first = self._first or self._source(), None
                if self._failing:
                    recovered = loop.call_later(self.recover_after, self._mark_recovered)
                try:
                    burst = 0
                    async for event in iterator:
                        if self._failing:
                            self._mark_recovered()
                        attempt = 0
                        self._ingest(event)
                        burst += 1
                        if burst >= _BURST:
                            # A source that never awaits anything real must not
                            # starve the loop (subscribers, streams, timers).
                            burst = 0
                            await asyncio.sleep(0)
                finally:
                    if recovered is not None:
                        recovered.cancel()
                    await _aclose_quietly(iterator)
                reason = "event source ended"
            except asyncio.CancelledError:
                raise
            except UnsupportedCapabilityError as exc:
                # Retrying cannot help: tell every subscriber once and stop.
                self._fatal = exc
                for sub in self._subs:
                    sub._end(exc)
                return
            except AuthenticationError as exc:
                self._stop_on_refusal(exc, attempt)
                return
            except Exception as exc:  # any driver failure means retry
                raise_if_cancelling(exc)
                reason = f"{type(exc).__name__}: {scrub(str(exc))}"
                _log.warning("event source of %s failed: %s", self.camera_id, reason)
            self._failing = True
            self._ingest(self._connection_event(False, reason, attempt=attempt))
            delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)
            attempt += 1
            await asyncio.sleep(delay)

    def _stop_on_refusal(self, exc: AuthenticationError, attempt: int) -> None:
        """The device refused the credentials: say so, end every subscription, retry nothing."""
        reason = f"{type(exc).__name__}: {scrub(str(exc))}"
        _log.warning("event source of %s refused the credentials; not retried: %s",
                     self.camera_id, reason)
        self._ingest(self._connection_event(False, reason, attempt=attempt, final=True))
        self._failing = False  # a later subscription starts afresh
        subs, self._subs = self._subs, ()
        for sub in subs:
            sub._end(exc)

    # -- lifecycle -----------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """End every subscription, stop the source and the hold timers. Idempotent.

        Subscribers still read what was queued before the close, then their
        iteration ends.
        """
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._open.clear()
        self._ended.clear()
        subs, self._subs = self._subs, ()
        for sub in subs:
            sub._end()
        await self._stop_source()


    def __repr__(self) -> str:
        return (
            f"<EventPipeline {self.camera_id!r} subscribers={len(self._subs)} "
            f"open={len(self._open)} source={'running' if self.source_running else 'idle'}>"
        )


async def _aclose_quietly(iterator: AsyncIterator[CameraEvent]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return
    try:
        await asyncio.wait_for(aclose(), timeout=_SOURCE_CLOSE_TIMEOUT)
    except Exception as exc:  # closing a failed source must not mask why
        _log.debug("closing an event source failed: %s", scrub(str(exc)))
