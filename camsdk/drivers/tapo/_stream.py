"""A Tapo stream that ends with `PrivacyModeError` when the lens mask goes on.

Tapo firmware differs in what the RTSP stream does in privacy mode: some
models drop it (and refuse new ones), others keep sending a "Privacy mode
is on" picture. Either way the picture is not the scene, so camsdk does not
let it look like a working stream or a fault:

- a stream opens only after ``getLensMaskConfig`` said the mask is off
  (else `PrivacyModeError`, which the stream session treats as final);
- while it runs, the mask is checked every ``privacy_poll`` seconds and the
  stream ends with `PrivacyModeError` when it is on;
- when the camera drops the stream, the mask is checked before the error is
  passed on, so a drop *because of* privacy mode says so.

`PrivacyWatchedSource` wraps the `PacketSource` camsdk's RTSP transport
opened (`camsdk.driver.open_source`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from camsdk.driver import (
    CamError,
    MediaPacket,
    PacketSource,
    PrivacyModeError,
    StreamInfo,
    get_logger,
)

__all__ = ["PrivacyWatchedSource"]

log = get_logger("camsdk.tapo.stream")

#: ``() -> bool``: whether the lens mask is on now (a fresh read).
PrivacyCheck = Callable[[], Awaitable[bool]]


class PrivacyWatchedSource:
    """The RTSP `PacketSource` of a Tapo profile, watched for privacy mode."""

    def __init__(self, inner: PacketSource, *, check: PrivacyCheck, poll: float,
                 error: Callable[[], PrivacyModeError]) -> None:
        self._inner = inner
        self._check = check
        self._poll = poll
        self._error = error
        self._masked: asyncio.Future[PrivacyModeError] | None = None
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
        """Never finite: a dropped stream is reopened (unless privacy mode ended it)."""
        return False

    async def request_keyframe(self) -> bool:
        """Pass a keyframe request on to the inner source, where it can take one."""
        request: Any = getattr(self._inner, "request_keyframe", None)
        if request is None:
            return False
        return bool(await request())

    def _start_watch(self) -> asyncio.Future[PrivacyModeError]:
        if self._masked is None:
            loop = asyncio.get_running_loop()
            self._masked = loop.create_future()
            if self._poll > 0:
                self._watcher = loop.create_task(self._watch(), name="camsdk-tapo-privacy")
        return self._masked

    async def _watch(self) -> None:
        """Check the mask every ``poll`` seconds; on: end the stream."""
        assert self._masked is not None
        while True:
            await asyncio.sleep(self._poll)
            try:
                masked = await self._check()
            except asyncio.CancelledError:
                raise
            except CamError as exc:  # the stream itself says whether the camera is gone
                log.debug("privacy check failed: %s", exc)
                continue
            if masked:
                break
        if not self._masked.done():
            self._masked.set_result(self._error())
        # Wake an iteration blocked in the inner source: it ends, and says why.
        with contextlib.suppress(Exception):
            await self._inner.aclose()

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        masked = self._start_watch()
        try:
            async for packet in self._inner:
                if masked.done():
                    break
                yield packet
        except CamError as exc:
            if masked.done():
                raise masked.result() from None
            if not isinstance(exc, PrivacyModeError) and await self._masked_now():
                raise self._error() from exc
            raise
        if masked.done():
            raise masked.result()
        if await self._masked_now():
            raise self._error()
        from camsdk.driver import StreamEndedError

        raise StreamEndedError("the camera ended the stream")

    async def _masked_now(self) -> bool:
        """Whether the mask is on (a failed check says no: the original error stands)."""
        try:
            return await self._check()
        except CamError:
            return False

    async def aclose(self) -> None:
        """Stop watching and close the inner source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        await self._inner.aclose()
