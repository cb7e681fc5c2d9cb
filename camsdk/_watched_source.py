"""A live packet source that a watcher may end early, saying why.

Some streams end for a reason their media never shows: a cloud live
session's lease runs out (`camsdk.cloud.LeasedSource`), a camera turns its
privacy mode on and sends frozen or no frames (Tapo). `WatchedSource` wraps
the stream's `PacketSource` with a watcher coroutine started on the first
iteration; when the watcher returns an error, the inner source is closed
(which wakes an iteration blocked in it) and the iteration ends with that
error instead of whatever the inner source raised. ``explain`` names the
error of an end the watcher did not cause (default: the inner error, or a
`StreamEndedError`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ._driver import PacketSource
from ._errors import CamError, StreamEndedError
from ._media import MediaPacket, StreamInfo

__all__ = ["WatchedSource"]

#: ``(inner error or None at a normal end) -> the error the iteration ends with``.
Explain = Callable[[CamError | None], Awaitable[CamError]]


async def _as_is(error: CamError | None) -> CamError:
    return error if error is not None else StreamEndedError("the stream ended")


class WatchedSource:
    """A live `PacketSource` around ``inner``, ended early by ``watch`` (module docstring).

    ``watch()`` runs from the first iteration until it returns the error that
    ends the stream (or forever); ``None`` watches nothing. The source is
    live and never finite: whoever opened it opens a new one after its end.
    """

    def __init__(
        self,
        inner: PacketSource,
        watch: Callable[[], Awaitable[CamError]] | None,
        *,
        explain: Explain = _as_is,
        name: str = "camsdk-watch",
    ) -> None:
        self._inner = inner
        self._watch = watch
        self._explain = explain
        self._name = name
        self._ended: asyncio.Future[CamError] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def info(self) -> StreamInfo:
        """The inner source's codec parameters."""
        return self._inner.info

    @property
    def live(self) -> bool:
        """Always live: a camera."""
        return True

    @property
    def finite(self) -> bool:
        """Never finite: an ended stream is opened again."""
        return False

    async def request_keyframe(self) -> bool:
        """Pass a keyframe request on to the inner source, where it can take one."""
        request: Any = getattr(self._inner, "request_keyframe", None)
        if request is None:
            return False
        return bool(await request())

    def _start_watch(self) -> asyncio.Future[CamError]:
        if self._ended is None:
            loop = asyncio.get_running_loop()
            self._ended = loop.create_future()
            if self._watch is not None:
                self._watcher = loop.create_task(self._run_watch(), name=self._name)
        return self._ended

    async def _run_watch(self) -> None:
        assert self._watch is not None and self._ended is not None
        error = await self._watch()
        if not self._ended.done():
            self._ended.set_result(error)
        # Wake an iteration blocked in the inner source: it ends, and says why.
        with contextlib.suppress(Exception):
            await self._inner.aclose()

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        ended = self._start_watch()
        try:
            async for packet in self._inner:
                if ended.done():
                    break
                yield packet
        except CamError as exc:
            if ended.done():
                raise ended.result() from None
            error = await self._explain(exc)
            if error is exc:
                raise
            raise error from exc
        if ended.done():
            raise ended.result()
        raise await self._explain(None)

    async def stop_watching(self) -> None:
        """Stop the watcher (letting one that is ending the stream finish first)."""
        watcher, self._watcher = self._watcher, None
        if watcher is None:
            return
        if self._ended is not None and self._ended.done():
            # The watcher is closing the inner source: cancelling it there would
            # leave that close half done (a peer connection running).
            with contextlib.suppress(Exception):
                await watcher
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher

    async def aclose(self) -> None:
        """Stop watching and close the inner source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.stop_watching()
        finally:
            await self._inner.aclose()
