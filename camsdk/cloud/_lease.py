"""Live sessions that expire: extended before they lapse, regenerated when they cannot be.

Cloud cameras hand out live streams for a few minutes at a time (Nest: five;
Ring: a hard maximum). A `LeasedSource` wraps the stream's packet source with
its lease: ``renew_before`` seconds before expiry it asks the vendor to extend
it; when the vendor refuses (battery devices cannot extend) or the hard
maximum is reached, the source ends with a `StreamEndedError` that the stream
session answers like a reconnect: the driver is asked for a new stream,
consumers see a `Discontinuity` and timestamps that keep increasing, never an
end. Closing the source (the last consumer left, an error, the camera
closed) stops the vendor's session too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .._driver import PacketSource
from .._errors import CamError, StreamEndedError
from .._log import get_logger
from .._media import MediaPacket, StreamInfo

__all__ = ["LeaseTerms", "LeasedSource"]

log = get_logger("camsdk.cloud")


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    """What a vendor granted: seconds the session lasts from now, and its handle."""

    lasts: float
    handle: Any = None


Extend = Callable[[LeaseTerms], Awaitable[LeaseTerms | None]]
Stop = Callable[[LeaseTerms], Awaitable[None]]


class LeasedSource:
    """A `PacketSource` whose vendor session is a lease (see the module docstring).

    ``extend(terms)`` returns new terms, or ``None`` (or raises a camsdk
    error) when the vendor will not extend: the source then ends so the
    session regenerates it. ``hard_max`` bounds the life of one session
    whatever the extensions. ``clock``/``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        inner: PacketSource,
        terms: LeaseTerms,
        *,
        extend: Extend | None = None,
        stop: Stop | None = None,
        renew_before: float = 60.0,
        hard_max: float | None = None,
        owner: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._inner = inner
        self._terms = terms
        self._extend = extend
        self._stop = stop
        self._renew_before = renew_before
        self._hard_max = hard_max
        self._clock = clock
        self._sleep = sleep
        self.owner = owner
        self.started = clock()
        self.expires_at = self.started + terms.lasts
        self._ended: asyncio.Future[CamError] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._closed = False
        #: Extensions the vendor granted.
        self.extensions = 0

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
        """Never finite: an ended lease is regenerated."""
        return False

    @property
    def terms(self) -> LeaseTerms:
        """The lease as last granted."""
        return self._terms

    def _start_keeper(self) -> asyncio.Future[CamError]:
        if self._ended is None:
            loop = asyncio.get_running_loop()
            self._ended = loop.create_future()
            self._keeper = loop.create_task(self._keep(), name="camsdk-lease")
        return self._ended

    async def _keep(self) -> None:
        """Extend before each expiry; end the source when that is no longer possible."""
        assert self._ended is not None
        reason = "the vendor's live session ended"
        try:
            while True:
                now = self._clock()
                limit = self.started + self._hard_max if self._hard_max is not None else None
                renew_at = self.expires_at - self._renew_before
                if limit is not None and limit <= renew_at:
                    await self._sleep(max(0.0, limit - now))
                    reason = "the live session reached its maximum length"
                    break
                await self._sleep(max(0.0, renew_at - now))
                if self._extend is None:
                    await self._sleep(max(0.0, self.expires_at - self._clock()))
                    reason = "the live session expired (it cannot be extended)"
                    break
                try:
                    terms = await self._extend(self._terms)
                except CamError as exc:
                    log.debug("lease extension refused: %s", exc)
                    terms = None
                if terms is None:
                    reason = "the vendor would not extend the live session"
                    break
                self._terms = terms
                self.expires_at = self._clock() + terms.lasts
                self.extensions += 1
        except asyncio.CancelledError:
            return
        if not self._ended.done():
            self._ended.set_result(StreamEndedError(f"{reason}; opening a new one"))
        # Wake an iteration blocked in the inner source: it ends, and says why.
        with contextlib.suppress(Exception):
            await self._inner.aclose()

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        ended = self._start_keeper()
        try:
            async for packet in self._inner:
                if ended.done():
                    break
                yield packet
        except CamError:
            if not ended.done():
                raise
            # The keeper closed the inner source to end the lease: say why.
        if ended.done():
            raise ended.result()
        raise StreamEndedError("the vendor's live session ended")

    async def aclose(self) -> None:
        """Stop extending, end the vendor's session, close the inner source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        keeper = self._keeper
        if keeper is not None:
            if self._ended is not None and self._ended.done():
                # The keeper ended the lease and is closing the inner source: cancelling
                # it there would leave that close half done (a peer connection running).
                with contextlib.suppress(Exception):
                    await keeper
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        try:
            if self._stop is not None:
                with contextlib.suppress(CamError, TimeoutError):
                    async with asyncio.timeout(2.0):
                        await self._stop(self._terms)
        finally:
            await self._inner.aclose()
