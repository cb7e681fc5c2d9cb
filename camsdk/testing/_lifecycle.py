"""The lifecycle every simulator shares: start once, close idempotently, ``async with``.

A simulator is a few loopback servers (HTTP, RTSP, websockets, a UDP
responder) brought up in order. `Simulator.start` brings them up once; if
one fails, the ones already up are closed again before the error goes on.
`Simulator.aclose` closes whatever is up and may be called any number of
times. Subclasses write `Simulator._start_parts` and `Simulator._stop_parts` (which must
cope with parts never started). `Simulator._notify` and
`Simulator._wait_for` (on a `Changes` signal) let tests wait, bounded, on the
simulator's state instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Literal, Self

__all__ = ["Changes", "Simulator"]


class Simulator:
    """Base of the simulators: the shared lifecycle and change notification (module docstring)."""

    _state: Literal["new", "running", "closed"] = "new"
    _signal: Changes | None = None

    async def start(self) -> None:
        """Start every part (see the class's `_start_parts`); a failure closes what started."""
        if self._state != "new":
            raise RuntimeError(f"cannot start the {type(self).__name__}: it is {self._state}")
        self._state = "running"
        try:
            await self._start_parts()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop everything. Idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        await self._stop_parts()

    async def _start_parts(self) -> None:
        """Bring the parts up, in order."""

    async def _stop_parts(self) -> None:
        """Close the parts that are up (some may never have started)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def _changes(self) -> Changes:
        if self._signal is None:
            self._signal = Changes()
        return self._signal

    def _share_changes(self, other: Simulator) -> None:
        """Notify and wait on ``other``'s signal: a change of either wakes waiters of both."""
        self._signal = other._changes()

    def _notify(self) -> None:
        """Wake every `_wait_for`: the state changed."""
        self._changes().notify()

    async def _wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        """Return once ``predicate()`` holds, re-checked on each `_notify`; `TimeoutError` after
        ``timeout`` seconds (``None``: no bound; the caller bounds it)."""
        await self._changes().wait_for(predicate, timeout)


class Changes:
    """A signal raised on every change of some state, and a bounded wait on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every waiter (each re-checks its condition)."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        """Return once ``predicate()`` holds; `TimeoutError` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._event.wait()
