"""Remote handles: streams, iterators and subscriptions a `CameraActor` keeps for its proxies.

A proxy cannot hold a Python object in the actor, so each open stream,
packet or frame iterator, and event subscription gets an id. An iterator's
items are moved by a pump task into a small buffer that `HandleTable.read`
drains in batches. The pump waits when the buffer is full, so a slow proxy
fills the *facade's* bounded consumer queue, whose overflow policy (drop
oldest by default, counted, resumed on a keyframe after a `Discontinuity`)
is the same as for a local consumer: a consumer slower than the camera
costs bounded memory here, in the proxy (one batch plus one in flight) and
nowhere else. A handle nobody read for ``idle_timeout`` seconds is closed,
so a proxy that vanished does not leak.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .._errors import CamError
from .._log import get_logger
from ._caller import Caller, serving

__all__ = ["END", "MAX_BUFFER", "Handle", "HandleTable"]

log = get_logger("camsdk.ray")

#: Put in a buffer when its iterator has ended.
END = object()
#: The largest pump buffer (and batch) of one iterator.
MAX_BUFFER = 256


@dataclass(eq=False)
class Handle:
    """One open remote object: an iterator with its pump, or a stream with its children."""

    id: str
    kind: str
    caller: Caller
    close: Callable[[], Any]
    convert: Callable[[Any], Any] = lambda item: item
    buffer: asyncio.Queue[Any] | None = None
    pump: asyncio.Task[None] | None = None
    dropped: Callable[[], int] = lambda: 0
    info: Any = None
    last_used: float = field(default_factory=time.monotonic)
    done: bool = False


class HandleTable:
    """The open handles of one actor, with batch reads and idle expiry."""

    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self._handles: dict[str, Handle] = {}
        self._ids = itertools.count(1)
        self._reaper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._handles)

    def start(self) -> None:
        """Start the idle reaper (once, on the actor's loop)."""
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap())

    def new_id(self, kind: str) -> str:
        """A fresh handle id."""
        return f"{kind}-{next(self._ids)}"

    def add_stream(self, caller: Caller, close: Callable[[], Any], info: Any) -> Handle:
        """Register an open stream (closing it ends its iterators)."""
        handle = Handle(self.new_id("stream"), "stream", caller, close, info=info)
        self._handles[handle.id] = handle
        return handle

    def add_iterator(
        self,
        kind: str,
        caller: Caller,
        iterator: AsyncIterator[Any],
        close: Callable[[], Any],
        *,
        convert: Callable[[Any], Any] = lambda item: item,
        dropped: Callable[[], int] = lambda: 0,
        info: Any = None,
        buffer_size: int = MAX_BUFFER,
    ) -> Handle:
        """Register ``iterator`` and start pumping it into a buffer of ``buffer_size`` items.

        The buffer is kept as small as the proxy's batch: items waiting
        beyond it wait in the facade's queue, whose overflow policy applies.
        """
        size = max(1, min(buffer_size, MAX_BUFFER))
        buffer: asyncio.Queue[Any] = asyncio.Queue(size)
        handle = Handle(self.new_id(kind), kind, caller, close, convert=convert, buffer=buffer,
                        dropped=dropped, info=info)
        with serving(caller):
            # The pump's context carries the caller: the audit record at the end is theirs.
            handle.pump = asyncio.get_running_loop().create_task(self._pump(handle, iterator))
        self._handles[handle.id] = handle
        return handle

    async def _pump(self, handle: Handle, iterator: AsyncIterator[Any]) -> None:
        assert handle.buffer is not None
        try:
            async for item in iterator:
                await handle.buffer.put(handle.convert(item))
        except CamError as exc:
            await handle.buffer.put(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must end the iterator, not hang it
            log.exception("fleet %s pump failed", handle.kind)
            await handle.buffer.put(CamError(f"{handle.kind} failed: {type(exc).__name__}"))
        await handle.buffer.put(END)

    def get(self, handle_id: str) -> Handle | None:
        """The handle ``handle_id``, or ``None`` (closed, expired, or lost in a restart)."""
        handle = self._handles.get(handle_id)
        if handle is not None:
            handle.last_used = time.monotonic()
        return handle

    async def read(
        self, handle: Handle, max_items: int, timeout: float
    ) -> tuple[list[Any], bool, CamError | None]:
        """Up to ``max_items`` items: wait ``timeout`` s for the first, then take what is there.

        Returns (items, ended, error): ``ended`` once the iterator is over;
        ``error`` is the typed error it ended with, after the items before it.
        """
        buffer = handle.buffer
        if buffer is None or handle.done:
            return [], True, None
        items: list[Any] = []
        try:
            first = await asyncio.wait_for(buffer.get(), timeout)
        except TimeoutError:
            return items, False, None
        pending: Any = first
        while True:
            if pending is END or isinstance(pending, CamError):
                handle.done = True
                await self.close(handle.id)
                return items, True, pending if isinstance(pending, CamError) else None
            items.append(pending)
            if len(items) >= max_items or buffer.empty():
                return items, False, None
            pending = buffer.get_nowait()

    async def close(self, handle_id: str) -> bool:
        """Close ``handle_id`` (its pump, then the facade object). Idempotent."""
        handle = self._handles.pop(handle_id, None)
        if handle is None:
            return False
        handle.done = True
        if handle.pump is not None and not handle.pump.done():
            handle.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await handle.pump
        with serving(handle.caller):
            try:
                result = handle.close()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("closing fleet %s failed", handle.kind)
        return True

    def stats(self) -> dict[str, Any]:
        """Counts for tests and benchmarks: handles, buffered items, drops."""
        return {
            "handles": len(self._handles),
            "buffered": sum(h.buffer.qsize() for h in self._handles.values() if h.buffer),
            "dropped": sum(h.dropped() for h in self._handles.values()),
        }

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(0.5, self.idle_timeout / 4))
            cutoff = time.monotonic() - self.idle_timeout
            for handle in [h for h in self._handles.values() if h.last_used < cutoff]:
                log.info("closing fleet %s %s: not read for %.0f s", handle.kind, handle.id,
                         self.idle_timeout)
                await self.close(handle.id)

    async def aclose(self) -> None:
        """Close every handle and stop the reaper."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for handle_id in list(self._handles):
            await self.close(handle_id)
