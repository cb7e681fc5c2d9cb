"""What a driver's shared event reader hands each subscriber: a bounded queue that can end.

Vendor event channels (an alert stream, a websocket, a Pub/Sub pull, a poll
loop) are read once per device or account and fanned out to every camera
that listens. Each listener gets an `EventQueue`:

- `EventQueue.put` never waits: a subscriber that falls behind loses its
  oldest events (counted in ``dropped``), so a slow camera never stalls the
  reader or the others;
- `EventQueue.fail` ends it with an error (a refused login, the session
  closed), raised once the events queued before it are read;
- iterating it yields events until the error, or until `EventQueue.aclose`
  (which runs the ``on_close`` callback once, e.g. to stop the reader when
  the last subscriber leaves).

`stop_task` is the other half of that pattern: the reader task, cancelled
and awaited when nobody listens any more. `EventFanout` puts the two
together: it owns the reader task, starts it when the first subscriber
joins and stops it when the last one leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from collections.abc import Set as AbstractSet
from typing import Any, Generic, TypeVar

__all__ = ["EventFanout", "EventQueue", "stop_task"]

T = TypeVar("T")
S = TypeVar("S", bound="EventQueue[Any]")

#: Events kept for a subscriber that falls behind (the oldest go first).
DEFAULT_EVENT_QUEUE = 1024


class EventQueue(Generic[T]):
    """One subscriber's events: bounded (drops the oldest), ended by an error or a close.

    One consumer reads it (``async for event in queue``, or `get`); any number
    of ``put`` calls come from the reader on the same event loop.
    """

    def __init__(
        self,
        maxlen: int = DEFAULT_EVENT_QUEUE,
        *,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.maxlen = maxlen
        self._items: deque[T] = deque(maxlen=maxlen)
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._on_close = on_close
        #: Events lost because the subscriber fell behind.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether the subscriber closed it."""
        return self._closed

    def put(self, item: T) -> None:
        """Queue ``item`` (never waits: a slow subscriber loses its oldest)."""
        if len(self._items) == self.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._wake()

    def fail(self, error: BaseException) -> None:
        """End the queue with ``error`` once the events queued are read."""
        self._error = error
        self._wake()

    async def get(self) -> T:
        """The next event; the error given to `fail` once none are left.

        After `aclose` with nothing queued: `StopAsyncIteration`.
        """
        while not self._items:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def __aiter__(self) -> EventQueue[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()

    async def aclose(self) -> None:
        """Stop receiving (a reader waiting in `get` ends); runs ``on_close`` once."""
        if self._closed:
            return
        self._closed = True
        self._wake()
        if self._on_close is not None:
            await self._on_close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def stop_task(
    task: asyncio.Task[Any] | None,
    *,
    absorb: tuple[type[BaseException], ...] = (Exception,),
) -> None:
    """Cancel ``task`` (if it still runs: a finished one is left as it is) and wait for it.

    Its cancellation and the errors in ``absorb`` (default: any `Exception`
    it ends with) are not raised here; pass ``absorb=()`` to see them.
    """
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, *absorb):
        await task


class EventFanout(Generic[S]):
    """One reader task shared by its subscribers: started by the first, stopped with the last.

    ``run`` is the reader (a coroutine function reading the device or account
    channel and `EventQueue.put`-ting into `subscribers`). A camera listens
    with::

        async with fanout.join(Subscriber(...)) as queue:
            async for event in queue:
                yield event

    `join` adds the queue, starts the reader unless it runs, and on the way
    out (cancelled, closed, failed) drops the queue and, if it was the last,
    stops the reader with `stop_task` (``absorb`` as there) and then calls
    ``on_stop``. `stop` does the same at any time (the session closes).
    """

    def __init__(
        self,
        run: Callable[[], Coroutine[Any, Any, None]],
        *,
        name: str,
        absorb: tuple[type[BaseException], ...] = (Exception,),
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._run = run
        self._name = name
        self._absorb = absorb
        self._on_stop = on_stop
        self._subs: set[S] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> AbstractSet[S]:
        """The queues listening now (the reader puts into them; do not change the set)."""
        return self._subs

    @property
    def running(self) -> bool:
        """Whether the reader task runs."""
        return self._task is not None and not self._task.done()

    @contextlib.asynccontextmanager
    async def join(self, subscriber: S) -> AsyncIterator[S]:
        """Listen with ``subscriber`` for the ``async with`` block; see the class docstring."""
        self._subs.add(subscriber)
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)
        try:
            yield subscriber
        finally:
            self._subs.discard(subscriber)
            if not self._subs:
                await self.stop()

    def fail_all(self, error: BaseException) -> None:
        """End every subscriber's queue with ``error`` (see `EventQueue.fail`)."""
        for subscriber in list(self._subs):
            subscriber.fail(error)

    async def stop(self) -> None:
        """Stop the reader (if it runs) and call ``on_stop``; subscribers stay."""
        task, self._task = self._task, None
        await stop_task(task, absorb=self._absorb)
        if self._on_stop is not None:
            self._on_stop()
