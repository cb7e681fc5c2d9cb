"""`VirtualEventStream`: the ``events()`` iterator of a virtual camera.

It merges two sources. Injected events (`VirtualDevice.inject_event`) are
queued into every subscribed iterator. Scripted events (``events=motion:5s``)
are computed on demand from the asyncio clock: the iterator sleeps until the
next start or end is due, so nothing runs while nobody iterates, and the
times are derived from the subscription time, never accumulated.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime

from camsdk.driver import CameraEvent

from ._device import VirtualDevice
from ._options import ScriptedEvent

__all__ = ["VirtualEventStream"]

#: Injected events a consumer may leave unread before the oldest are dropped.
_BACKLOG = 1024
_SCRIPT_SCORE = 0.9
_SCRIPT_ZONE = "scene"


class VirtualEventStream:
    """Yields a virtual camera's injected and scripted events until closed."""

    def __init__(
        self,
        device: VirtualDevice,
        script: tuple[ScriptedEvent, ...],
        gate: Callable[[], Awaitable[None]],
    ) -> None:
        self._device: VirtualDevice | None = device
        self._script = script
        self._gate = gate
        self._pending: collections.deque[CameraEvent] = collections.deque(maxlen=_BACKLOG)
        self._wakeup = asyncio.Event()
        self._closed = False
        self._started = False
        self._t0 = 0.0
        # (due, tie-break, script index, repetition, is_end)
        self._timeline: list[tuple[float, int, int, int, bool]] = []
        self._ties = itertools.count()
        self._open: dict[tuple[int, int], tuple[str, datetime]] = {}
        # Subscribe now, not at the first iteration, so an event injected right
        # after ``events()`` returned is not lost.
        device.subscribe(self)

    def deliver(self, event: CameraEvent) -> None:
        """Queue an injected event (the oldest is dropped past the backlog)."""
        if not self._closed:
            self._pending.append(event)
            self._wakeup.set()

    def __aiter__(self) -> VirtualEventStream:
        return self

    async def __anext__(self) -> CameraEvent:
        if self._closed:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        if not self._started:
            await self._gate()
            self._started = True
            self._t0 = loop.time()
            for index, line in enumerate(self._script):
                self._schedule(self._t0 + line.period, index, 1, False)
        while True:
            if self._pending:
                return self._pending.popleft()
            device = self._device
            if device is None:  # ended
                raise StopAsyncIteration
            due = self._timeline[0][0] if self._timeline else None
            if due is not None and due <= loop.time():
                return self._fire(device)
            self._wakeup.clear()
            try:
                async with asyncio.timeout_at(due):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _schedule(self, due: float, index: int, repetition: int, is_end: bool) -> None:
        heapq.heappush(self._timeline, (due, next(self._ties), index, repetition, is_end))

    def _fire(self, device: VirtualDevice) -> CameraEvent:
        due, _, index, repetition, is_end = heapq.heappop(self._timeline)
        line = self._script[index]
        extra = {"source": "script", "repetition": repetition}
        if is_end:
            event_id, started_at = self._open.pop((index, repetition))
            return device.make_event(
                line.kind,
                event_id=event_id,
                active=False,
                started_at=started_at,
                score=_SCRIPT_SCORE,
                zone=_SCRIPT_ZONE,
                extra=extra,
            )
        event = device.make_event(
            line.kind,
            event_id=device.next_event_id(),
            active=True,
            score=_SCRIPT_SCORE,
            zone=_SCRIPT_ZONE,
            extra=extra,
        )
        self._open[(index, repetition)] = (event.event_id, event.started_at)
        self._schedule(due + line.hold, index, repetition, True)
        # Next start from the subscription time, so rounding never accumulates.
        self._schedule(self._t0 + (repetition + 1) * line.period, index, repetition + 1, False)
        return event

    async def aclose(self) -> None:
        """Stop the iterator; a consumer waiting in it ends. Safe to call twice."""
        self.end()

    def end(self) -> None:
        """Synchronous `aclose` (the driver ends its iterators when it closes)."""
        if not self._closed:
            self._closed = True
            self._wakeup.set()
            if self._device is not None:
                self._device.unsubscribe(self)
                self._device = None
