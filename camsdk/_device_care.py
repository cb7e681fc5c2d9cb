"""Device care for drivers: who is asking, audit records, one session per device.

- `current_request`: inside a driver hook, the request being served: the
  principal, the action, the purpose and the caller's wishes (``wake`` for
  battery devices). Set by the facade around every driver call, so a driver
  can attribute what it does to someone without a parameter on every hook.
- `DeviceSessions`: one login per device per process, shared by every camera
  and hub on it (devices cap concurrent sessions, and logging in twice can
  log the first session out), released by the last user.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._access import OWNER, Action, Principal

__all__ = ["DeviceSessions", "RequestContext", "current_request", "request_context"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The request a driver hook is serving (see `current_request`)."""

    principal: Principal = OWNER
    action: Action | None = None
    purpose: str = ""
    #: The caller explicitly asked to wake a sleeping (battery) device.
    wake: bool = False
    #: The staleness the caller accepts for a still, in seconds (None: any).
    max_age: float | None = None


#: Outside any facade call: the owner asks (the request is frozen, so sharing it is safe).
_OWNERS_REQUEST = RequestContext()
_CURRENT: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "camsdk_request", default=_OWNERS_REQUEST
)


def current_request() -> RequestContext:
    """The request the running driver hook serves (the owner's, outside the facade)."""
    return _CURRENT.get()


@contextlib.contextmanager
def request_context(context: RequestContext) -> Iterator[RequestContext]:
    """Make ``context`` the current request for the block (the facade does this)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


class _Entry(Generic[T]):
    __slots__ = ("close", "opening", "users", "value")

    def __init__(self) -> None:
        self.users = 0
        self.value: T | None = None
        self.opening: asyncio.Future[T] | None = None
        self.close: Callable[[T], Awaitable[None]] | None = None


class DeviceSessions(Generic[T]):
    """Sessions shared by key (a device), opened once and closed by the last user.

    Make one per driver family (module level) and key it by what identifies
    a login: ``(host, port, username)``::

        SESSIONS: DeviceSessions[VendorSession] = DeviceSessions()

        session = await SESSIONS.acquire(key, open=login, close=logout)
        ...
        await SESSIONS.release(key)

    Concurrent first acquires share one ``open`` (one login); a failed open
    is not kept (the next acquire tries again). Sessions are per event loop.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[int, Hashable], _Entry[T]] = {}

    def _key(self, key: Hashable) -> tuple[int, Hashable]:
        return (id(asyncio.get_running_loop()), key)

    def users(self, key: Hashable) -> int:
        """How many users hold the session of ``key`` (0: none open)."""
        entry = self._entries.get(self._key(key))
        return entry.users if entry is not None else 0

    async def acquire(
        self,
        key: Hashable,
        *,
        open: Callable[[], Awaitable[T]],
        close: Callable[[T], Awaitable[None]],
    ) -> T:
        """The session of ``key``, opening it with ``open`` if nobody holds it."""
        full = self._key(key)
        entry = self._entries.get(full)
        if entry is None:
            entry = self._entries[full] = _Entry()
        entry.users += 1
        try:
            if entry.value is not None:
                return entry.value
            if entry.opening is None:
                entry.opening = asyncio.ensure_future(open())
                entry.close = close
            value = await asyncio.shield(entry.opening)
            entry.value = value
            return value
        except BaseException:
            entry.users -= 1
            opening = entry.opening
            if opening is not None and opening.done() and (
                opening.cancelled() or opening.exception() is not None
            ):
                entry.opening = None
            if entry.users <= 0 and entry.value is None:
                self._entries.pop(full, None)
                if opening is not None and not opening.done():
                    opening.cancel()
            raise

    async def release(self, key: Hashable) -> None:
        """Stop using the session of ``key``; the last user closes it."""
        full = self._key(key)
        entry = self._entries.get(full)
        if entry is None:
            return
        entry.users -= 1
        if entry.users > 0:
            return
        self._entries.pop(full, None)
        value, close = entry.value, entry.close
        if value is not None and close is not None:
            with contextlib.suppress(Exception):
                await close(value)
