"""A bounded outgoing queue with acknowledgements, shared by the sinks.

Messages leave the queue in order, are held "in flight" until the transport
confirms them (an MQTT PUBACK, an HTTP 2xx), and go back to the front, in
their original order, when a connection dies before confirming them. That is
what makes delivery at-least-once across broker restarts. The queue never
grows past ``maxsize`` (pending + in flight): when full, the oldest pending
message is dropped and counted, so a long outage costs old messages, never
unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["AckQueue", "OutgoingMessage"]

T = TypeVar("T")


@dataclass(slots=True)
class OutgoingMessage(Generic[T]):
    """One queued item with its sequence number and enqueue time (monotonic)."""

    seq: int
    item: T
    enqueued: float = field(default_factory=time.monotonic)
    attempts: int = 0
    #: When it was last handed to the transport (monotonic).
    sent: float = 0.0


class AckQueue(Generic[T]):
    """Bounded FIFO whose items stay accounted for until acknowledged."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._pending: deque[OutgoingMessage[T]] = deque()
        self._inflight: dict[int, OutgoingMessage[T]] = {}
        self._seq = 0
        self._ready = asyncio.Event()
        self._progress = asyncio.Event()
        #: Items discarded because the queue was full.
        self.dropped = 0
        #: Items acknowledged by the transport.
        self.acked = 0

    def __len__(self) -> int:
        return len(self._pending) + len(self._inflight)

    @property
    def pending(self) -> int:
        """Items waiting to be sent."""
        return len(self._pending)

    @property
    def inflight(self) -> int:
        """Items sent and not yet acknowledged."""
        return len(self._inflight)

    def put(self, item: T) -> int:
        """Queue ``item`` without waiting; return its sequence number."""
        if len(self) >= self.maxsize and self._pending:
            self._pending.popleft()
            self.dropped += 1
            self._pulse()
        self._seq += 1
        self._pending.append(OutgoingMessage(self._seq, item))
        self._ready.set()
        return self._seq

    async def get(self) -> OutgoingMessage[T]:
        """Wait for the next item and mark it in flight."""
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        msg = self._pending.popleft()
        msg.attempts += 1
        msg.sent = time.monotonic()
        self._inflight[msg.seq] = msg
        return msg

    def ack(self, msg: OutgoingMessage[T]) -> None:
        """The transport confirmed ``msg``."""
        if self._inflight.pop(msg.seq, None) is not None:
            self.acked += 1
            self._pulse()

    def requeue_inflight(self) -> int:
        """Put every unconfirmed item back in front, oldest first; return how many."""
        if not self._inflight:
            return 0
        msgs = sorted(self._inflight.values(), key=lambda m: m.seq)
        self._inflight.clear()
        self._pending.extendleft(reversed(msgs))
        # Requeued items may push the total over maxsize; trim the oldest.
        while len(self._pending) > self.maxsize:
            self._pending.popleft()
            self.dropped += 1
        self._ready.set()
        return len(msgs)

    def oldest_inflight_age(self) -> float | None:
        """Seconds the longest-waiting in-flight item has waited, or None."""
        if not self._inflight:
            return None
        return time.monotonic() - min(m.sent for m in self._inflight.values())

    @property
    def last_seq(self) -> int:
        """Sequence number of the most recently queued item."""
        return self._seq

    def done_upto(self, seq: int) -> bool:
        """Whether every item queued up to ``seq`` was acknowledged (or dropped)."""
        if self._pending and self._pending[0].seq <= seq:
            return False
        return not any(s <= seq for s in self._inflight)

    async def wait_done(self, seq: int | None = None) -> None:
        """Wait until everything queued so far (or up to ``seq``) is acknowledged or dropped."""
        target = self._seq if seq is None else seq
        while not self.done_upto(target):
            self._progress.clear()
            await self._progress.wait()

    def _pulse(self) -> None:
        self._progress.set()


async def stop_delivery(
    task: asyncio.Task[None] | None,
    flush: Callable[[], Awaitable[None]],
    *,
    drain: bool,
    timeout: float,
) -> None:
    """Stop a sink's delivery task; with ``drain``, first wait up to ``timeout`` for ``flush``."""
    if task is None:
        return
    if drain and not task.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flush(), timeout=timeout)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
