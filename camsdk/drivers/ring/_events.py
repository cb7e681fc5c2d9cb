"""The account's events: push first, polling while push is silent, each ding once.

One `AccountEvents` per account serves every camera that listens (started
with the first subscriber, stopped with the last):

- **push** (`_push.PushChannel`, when ``push_url`` is set and ``events`` is
  not ``poll``): healthy while bytes arrive; no byte for ``push_health``
  seconds (heartbeats included) marks it silent, and it is reconnected with
  capped, jittered backoff (never given up, except on an authentication
  failure);
- **polling** while push is not healthy (or not configured): ``GET
  /clients_api/dings/active`` every ``poll_interval`` seconds; errors back
  off exponentially with full jitter up to ``poll_cap`` (a 429's
  ``Retry-After`` is honoured);
- **recovery**: whenever coverage changes hands (push goes silent, or takes
  over from polling), the active dings and each listened device's history
  (``.../events``) are read from the moment coverage was last known good, so
  dings that happened while nobody was listening are not lost;
- **deduplication**: a ding id seen on any path is not emitted again (the
  last 4096 ids are kept); events without a ding id (intercom unlocks by
  push) match one of the same device and kind within 5 seconds.

An `AuthenticationError` ends every subscription at once; nothing retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from camsdk import RateLimitedError
from camsdk.driver import (
    AuthenticationError,
    CameraEvent,
    CamError,
    EventFanout,
    EventQueue,
    get_logger,
)

from ._classify import Ding, ding_from_active, ding_from_history, ding_from_push, events_of
from ._push import PushChannel

if TYPE_CHECKING:  # pragma: no cover
    from ._account import RingSession

__all__ = ["AccountEvents"]

log = get_logger("camsdk.drivers.ring.events")

_QUEUE = 1024
_SEEN = 4096
_FUZZY = 5.0
# Recovery reads history from a little before the last known-good moment (clock skew).
_MARGIN = timedelta(seconds=10)
_HISTORY_LIMIT = 50


class _Subscriber(EventQueue[CameraEvent]):
    """One camera's events (a slow camera loses its oldest, never stalls the others)."""

    def __init__(self, device_key: str, camera_id: str) -> None:
        super().__init__(_QUEUE)
        self.device_key = device_key
        self.camera_id = camera_id


class _Seen:
    """Ding ids already emitted (bounded), and id-less events by device, kind and time."""

    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._idless: list[tuple[str, str, datetime]] = []

    def first_time(self, ding: Ding) -> bool:
        if ding.id:
            if ding.id in self._ids:
                self._ids.move_to_end(ding.id)
                return False
            self._ids[ding.id] = None
            if len(self._ids) > _SEEN:
                self._ids.popitem(last=False)
            return True
        for key, raw, at in self._idless:
            if key == ding.device_key and raw == ding.raw and abs(
                    (at - ding.at).total_seconds()) <= _FUZZY:
                return False
        self._idless.append((ding.device_key, ding.raw, ding.at))
        del self._idless[:-256]
        return True


class AccountEvents:
    """Push, polling and recovery for one account (see the module docstring)."""

    def __init__(self, session: RingSession) -> None:
        self.session = session
        self._fanout: EventFanout[_Subscriber] = EventFanout(
            self._run, name=f"camsdk-ring-events-{session.name}",
            on_stop=lambda: self._set_push(False))
        self._seen = _Seen()
        self._push_up = asyncio.Event()
        self._push_changed = asyncio.Event()
        self._ring_knows_token = False
        self._push_was_up = False
        self._covered = datetime.now(UTC)
        self._horizon = datetime.now(UTC)
        #: Counters read by tests and benchmarks.
        self.stats: dict[str, int] = {
            "push": 0, "poll": 0, "history": 0, "duplicates": 0, "push_connects": 0,
            "push_silences": 0, "polls": 0, "recoveries": 0,
        }
        #: Set while the push channel delivers; cleared while events are polled.
        self.push_healthy = self._push_up

    @property
    def push_enabled(self) -> bool:
        """Whether a push channel is used at all."""
        options = self.session.options
        return options.push_url is not None and options.events != "poll"

    # -- subscribers ------------------------------------------------------------------------

    async def subscribe(self, device_key: str, camera_id: str) -> AsyncIterator[CameraEvent]:
        """The events of one device until cancelled (or an `AuthenticationError`)."""
        if not self._fanout.running:
            # Events from now on: a ding Ring still lists as active from before is old news.
            # Ring stamps dings in milliseconds: so is the horizon.
            now = datetime.now(UTC)
            self._covered = self._horizon = now.replace(microsecond=now.microsecond // 1000 * 1000)
        async with self._fanout.join(_Subscriber(device_key, camera_id)) as sub:
            async for event in sub:
                yield event

    async def aclose(self) -> None:
        """Stop everything (the account session closes)."""
        await self._fanout.stop()

    def _dispatch(self, ding: Ding | None) -> None:
        if ding is None or ding.at < self._horizon:
            return  # before anyone listened
        if not self._seen.first_time(ding):
            self.stats["duplicates"] += 1
            return
        self.stats[ding.source] += 1
        if ding.snapshot_uuid:
            self.session.pictures[ding.device_key] = (ding.snapshot_uuid, ding.at.timestamp())
        for sub in self._fanout.subscribers:
            if sub.device_key == ding.device_key:
                for event in events_of(ding, sub.camera_id):
                    sub.put(event)

    # -- the loops --------------------------------------------------------------------------

    def _set_push(self, up: bool) -> None:
        if up != self._push_up.is_set():
            if up:
                self._push_up.set()
            else:
                self._push_up.clear()
            self._push_changed.set()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                if self.push_enabled:
                    group.create_task(self._push_loop(), name="camsdk-ring-push")
                group.create_task(self._poll_loop(), name="camsdk-ring-poll")
        except* AuthenticationError as failed:
            exc = failed.exceptions[0]
            log.warning("%s: events stopped: %s", self.session.shown, exc)
            self._fanout.fail_all(exc)
        except* Exception as failed:  # a bug: subscribers learn it instead of waiting forever
            log.exception("%s: events failed", self.session.shown)
            self._fanout.fail_all(failed.exceptions[0])

    def _backoff(self, attempt: int, base: float, cap: float) -> float:
        return random.uniform(0, min(cap, base * (2 ** min(attempt, 16))))

    async def _push_loop(self) -> None:
        options, config = self.session.options, self.session.config
        attempt = 0
        while True:
            channel: PushChannel | None = None
            try:
                channel = await PushChannel.open(self.session,
                                                 ring_knows=self._ring_knows_token)
                self._ring_knows_token = True
                self.stats["push_connects"] += 1
                async for message in channel.messages(options.push_health):
                    if not self._push_up.is_set():
                        # Push takes over from polling: what happened since the last poll
                        # (or while push was silent) is read once.
                        await self._recover("push up")
                        self._push_was_up = True
                        self._set_push(True)
                    # Every byte proves the channel delivered up to now.
                    self._covered = max(self._covered, datetime.now(UTC))
                    attempt = 0
                    if message.get("type") == "notification":
                        inner = message.get("message")
                        if isinstance(inner, Mapping):
                            devices = await self.session.devices()
                            self._dispatch(ding_from_push(inner, devices))
            except AuthenticationError:
                raise
            except (CamError, OSError, ValueError) as exc:
                if self._push_up.is_set():
                    self.stats["push_silences"] += 1
                log.info("%s: push channel lost: %s", self.session.shown, exc)
            finally:
                if channel is not None:
                    await channel.aclose()
            self._set_push(False)
            delay = self._backoff(attempt, config.backoff_base, config.backoff_cap)
            attempt += 1
            await asyncio.sleep(delay)

    async def _wait_push_change(self, timeout: float) -> None:
        self._push_changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._push_changed.wait()

    async def _poll_loop(self) -> None:
        options = self.session.options
        recovered = False
        attempt = 0
        while True:
            if self._push_up.is_set():
                recovered = False
                await self._wait_push_change(3600.0)
                continue
            if not recovered and self._push_was_up:
                # Push went silent: cover the time since it last delivered.
                with contextlib.suppress(RateLimitedError):
                    await self._recover("push silent")
                recovered = True
            try:
                await self._poll()
                attempt = 0
                delay = options.poll_interval
            except AuthenticationError:
                raise
            except RateLimitedError as exc:
                delay = max(exc.retry_after, self._backoff(attempt, options.poll_interval,
                                                           options.poll_cap))
                attempt += 1
            except (CamError, OSError, ValueError) as exc:
                log.info("%s: polling failed: %s", self.session.shown, exc)
                delay = self._backoff(attempt, options.poll_interval, options.poll_cap)
                attempt += 1
            await self._wait_push_change(delay)

    async def _poll(self) -> None:
        session = self.session
        data = await session.api.get_json(session.api.url("api", "/clients_api/dings/active"),
                                          action="active dings")
        self.stats["polls"] += 1
        polled_at = datetime.now(UTC)
        if isinstance(data, list):
            devices = await session.devices()
            for item in data[:1000]:
                if isinstance(item, Mapping):
                    self._dispatch(ding_from_active(item, devices))
        self._covered = max(self._covered, polled_at - _MARGIN)

    async def _recover(self, why: str) -> None:
        """Read the history of every listened device since coverage was last good."""
        session = self.session
        since = min(self._covered, datetime.now(UTC)) - _MARGIN
        keys = {sub.device_key for sub in self._fanout.subscribers}
        self.stats["recoveries"] += 1
        try:
            await self._poll()  # Ring lists a ding as active before its history has it
        except AuthenticationError:
            raise
        except CamError as exc:
            log.info("%s: active dings unavailable: %s", session.shown, exc)
        log.debug("%s: reading history since %s (%s)", session.shown, since.isoformat(), why)
        for device in await session.devices():
            if device.key not in keys or device.id is None:
                continue
            path = f"/clients_api/locations/{device.location_id}/devices/{device.id}/events"
            try:
                data = await session.api.get_json(session.api.url("api", path),
                                                  action="event history",
                                                  params={"limit": str(_HISTORY_LIMIT)})
            except AuthenticationError:
                raise
            except CamError as exc:
                log.info("%s: history of %s unavailable: %s", session.shown, device.key, exc)
                continue
            items = data.get("events") if isinstance(data, Mapping) else None
            for item in reversed(items if isinstance(items, list) else []):
                if isinstance(item, Mapping):
                    ding = ding_from_history(item, device)
                    if ding is not None and ding.at >= since:
                        self._dispatch(ding)
        self._covered = datetime.now(UTC) - _MARGIN

    def describe(self) -> dict[str, Any]:
        """Counters and the current path, for diagnostics."""
        return {**self.stats, "path": "push" if self._push_up.is_set() else "poll"}
