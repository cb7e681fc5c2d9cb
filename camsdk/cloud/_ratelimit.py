"""One rate limiter per cloud account, and coalescing of identical requests.

Services answer hot retries with longer and longer bans. Every request of an
account waits its turn at the account's `RateLimiter` (a token bucket, plus a
minimum spacing per kind of command, which is how vendors throttle commands
such as "generate a stream"); a "slow down" answer (HTTP 429 with
``Retry-After``, or the vendor's own) stops *every* request of the account
until the time is up. Nothing retries hot: a wait longer than the caller's
bound is a `RateLimitedError` saying how long to wait.

`Coalescer` runs concurrent identical requests (a device list, a snapshot)
once and hands every caller the same answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from .._errors import ConfigurationError, RateLimitedError

__all__ = ["Coalescer", "RateLimiter"]

T = TypeVar("T")


class RateLimiter:
    """A token bucket of ``rate`` requests per second (bursts of ``burst``), shared by an account.

    ``spacing`` maps a command kind to the minimum seconds between two of
    them (e.g. ``{"GenerateRtspStream": 5.0}``). ``clock`` and ``sleep`` are
    injectable so tests move time instead of waiting.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        spacing: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ConfigurationError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.spacing = dict(spacing or {})
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._blocked_until = 0.0
        self._last: dict[str, float] = {}
        self._lock = asyncio.Lock()
        #: Requests that had to wait, and seconds waited in all.
        self.waits = 0
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self, kind: str | None = None) -> float:
        """Seconds a request of ``kind`` would wait now (0 when it may go at once)."""
        now = self._clock()
        self._refill(now)
        wait = max(0.0, self._blocked_until - now)
        if self._tokens < 1:
            wait = max(wait, (1 - self._tokens) / self.rate)
        if kind is not None and kind in self.spacing and kind in self._last:
            wait = max(wait, self._last[kind] + self.spacing[kind] - now)
        return wait

    async def acquire(self, kind: str | None = None, *, max_wait: float = 30.0) -> None:
        """Wait for this request's turn; `RateLimitedError` if that is more than ``max_wait`` s."""
        async with self._lock:  # one waiter at a time keeps the order fair
            wait = self.delay(kind)
            if wait > max_wait:
                raise RateLimitedError(
                    f"rate limit: the next {kind or 'request'} may go in {wait:.1f} s",
                    retry_after=wait,
                )
            if wait > 0:
                self.waits += 1
                self.waited += wait
                await self._sleep(wait)
            now = self._clock()
            self._refill(now)
            self._tokens -= 1
            if kind is not None:
                self._last[kind] = now

    def penalize(self, retry_after: float) -> None:
        """The service said "slow down": no request of the account goes for ``retry_after`` s."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, retry_after))

    @property
    def blocked_for(self) -> float:
        """Seconds until a penalty is over (0 when none)."""
        return max(0.0, self._blocked_until - self._clock())


class Coalescer(Generic[T]):
    """Runs one request per key at a time; concurrent callers share its result (or error)."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}
        #: Calls answered by a request already in flight.
        self.shared = 0

    async def run(self, key: Hashable, request: Callable[[], Awaitable[T]]) -> T:
        """``await request()``, unless an identical one is in flight: then its answer."""
        running = self._running.get(key)
        if running is not None:
            self.shared += 1
            return await asyncio.shield(running)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await request()
        except BaseException as exc:
            if not future.done():
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    future.exception()  # retrieved: waiters re-raise their own copy
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._running.pop(key, None)


def retry_after(headers: Mapping[str, Any], default: float = 60.0) -> float:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), else ``default``."""
    value = str(headers.get("retry-after", "")).strip()
    if not value:
        return default
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    from datetime import UTC, datetime

    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
