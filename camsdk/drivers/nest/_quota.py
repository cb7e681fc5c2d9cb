"""The SDM API's quotas, kept on our side: at most N calls of a kind in any minute.

Google publishes its Device Access limits per minute (QPM): per project and
user for each API method (``devices.executeCommand`` 10, ``devices.get``
10, ``devices.list`` and the structure calls 5 in the Sandbox), and for
each trait command per device (5). A call over them is answered 429
``RESOURCE_EXHAUSTED``, and the devices' batteries pay for the commands
that do get through. So every call waits for its turn in sliding one-minute
windows, per project method and per device and command; a wait longer
than the caller's bound is a `RateLimitedError` saying when to come back,
never a request.

(The account's `camsdk.cloud.RateLimiter` sits behind these windows: it
holds every request of the account after a 429.)
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

import camsdk

__all__ = ["QuotaWindows"]

_MAX_WINDOWS = 4096


class QuotaWindows:
    """Sliding windows of ``period`` seconds, one per quota name (see the module docstring)."""

    def __init__(
        self,
        *,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._windows: OrderedDict[str, deque[float]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        #: Calls that had to wait for their turn.
        self.waits = 0

    def _window(self, name: str) -> deque[float]:
        window = self._windows.get(name)
        if window is None:
            window = self._windows[name] = deque()
            while len(self._windows) > _MAX_WINDOWS:  # devices come and go: stay bounded
                old, _ = self._windows.popitem(last=False)
                self._locks.pop(old, None)
        else:
            self._windows.move_to_end(name)
        return window

    def wait_for(self, name: str, limit: int) -> float:
        """Seconds a call of ``name`` would wait now under ``limit`` calls per period."""
        window = self._window(name)
        now = self._clock()
        while window and window[0] <= now - self.period:
            window.popleft()
        if len(window) < limit:
            return 0.0
        return window[len(window) - limit] + self.period - now

    async def acquire(self, name: str, limit: int, *, max_wait: float) -> None:
        """Take a turn of ``name``; wait for it, or `RateLimitedError` past ``max_wait``."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            wait = self.wait_for(name, limit)
            if wait > max_wait:
                raise camsdk.RateLimitedError(
                    f"the {name} quota ({limit} per {self.period:g} s) is used up; the next "
                    f"call may go in {wait:.1f} s", scheme="nest", retry_after=wait)
            if wait > 0:
                self.waits += 1
                await self._sleep(wait)
            self._window(name).append(self._clock())
