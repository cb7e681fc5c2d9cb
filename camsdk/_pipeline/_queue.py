"""Per-consumer bounded queues with a stated overflow policy.

Publishing never awaits a consumer: the upstream (or decoder) calls
`ConsumerQueue.put` on the event loop and moves on. When a consumer falls
behind, its queue applies its `OverflowPolicy`, counts the loss, and the
consumer's next read is a `Discontinuity` followed by a keyframe, so what it
receives stays decodable.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

from .._media import Discontinuity
from .._models import OverflowPolicy

__all__ = ["ConsumerQueue", "QueueClosed"]

T = TypeVar("T")


class QueueClosed(Exception):
    """Raised by `ConsumerQueue.get` when the producer ended without an error."""


class ConsumerQueue(Generic[T]):
    """A bounded queue for one consumer.

    ``is_key(item)`` tells which items a consumer may resume on after a loss
    (keyframe packets); items before the next resumable one are skipped.
    """

    __slots__ = (
        "_closed",
        "_error",
        "_is_key",
        "_items",
        "_maxlen",
        "_pending_drop",
        "_policy",
        "_resync",
        "_space",
        "_waiter",
        "delivered",
        "dropped",
    )

    def __init__(
        self,
        maxlen: int,
        policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        is_key: object = None,
    ) -> None:
        self._items: collections.deque[T | Discontinuity] = collections.deque()
        self._maxlen = maxlen
        self._policy = policy
        self._waiter: asyncio.Future[None] | None = None
        self._space: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._resync = False
        self._pending_drop = 0
        self._is_key = is_key
        #: Items lost to the overflow policy.
        self.dropped = 0
        #: Items handed to the consumer.
        self.delivered = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether the producer ended this queue."""
        return self._closed

    def _key(self, item: T | Discontinuity) -> bool:
        if self._is_key is None or isinstance(item, Discontinuity):
            return True
        return bool(self._is_key(item))  # type: ignore[operator]

    def full(self) -> bool:
        """Whether a put would overflow."""
        return len(self._items) >= self._maxlen

    def put(self, item: T | Discontinuity) -> None:
        """Add ``item``; never blocks (the session waits with `wait_space` for non-live sources)."""
        if self._closed:
            return
        if self._resync:
            # After a loss, skip until something a decoder can start from.
            if not self._key(item):
                self._pending_drop += 1
                self.dropped += 1
                return
            self._resync = False
            self._items.append(Discontinuity("overflow", dropped=self._pending_drop))
            self._pending_drop = 0
        # BLOCK queues are kept from filling by the session holding a non-live
        # upstream back; a live upstream cannot wait, so there they drop oldest.
        if len(self._items) >= self._maxlen:
            if self._policy is not OverflowPolicy.DROP_NEWEST:
                self._drop_oldest_gop()
            if self._policy is OverflowPolicy.DROP_NEWEST or not self._items:
                # Nothing decodable is left queued: resume on the next keyframe.
                if not self._key(item) or self._policy is OverflowPolicy.DROP_NEWEST:
                    self.dropped += 1
                    self._pending_drop += 1
                    self._resync = True
                    self._wake()
                    return
                self._items.append(Discontinuity("overflow", dropped=self._pending_drop))
                self._pending_drop = 0
        self._items.append(item)
        self._wake()

    def _drop_oldest_gop(self) -> None:
        """Drop the oldest item and everything up to the next resumable one."""
        items = self._items
        lost = 0
        first = True
        while items and (first or not self._key(items[0])):
            if not isinstance(items.popleft(), Discontinuity):
                lost += 1
            first = False
        self.dropped += lost
        self._pending_drop += lost
        if items:
            items.appendleft(Discontinuity("overflow", dropped=self._pending_drop))
            self._pending_drop = 0

    def put_marker(self, marker: Discontinuity) -> None:
        """Queue a marker (not subject to resync skipping)."""
        if not self._closed:
            self._items.append(marker)
            self._wake()

    def close(self, error: BaseException | None = None) -> None:
        """End the queue; the consumer drains what is queued, then sees ``error`` or the end."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._wake()
        if self._space is not None and not self._space.done():
            self._space.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> T | Discontinuity:
        """Wait for the next item; raise the producer's error or `QueueClosed` at the end."""
        while not self._items:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise QueueClosed
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        self.delivered += 1
        if self._space is not None and not self._space.done() and not self.full():
            self._space.set_result(None)
        return item

    async def wait_space(self) -> None:
        """For ``BLOCK`` queues: wait until the consumer made room (or the queue closed)."""
        while self.full() and not self._closed:
            self._space = asyncio.get_running_loop().create_future()
            try:
                await self._space
            finally:
                self._space = None
