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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .._driver import PacketSource
from .._errors import CamError, StreamEndedError
from .._log import get_logger
from .._watched_source import WatchedSource

__all__ = ["LeaseTerms", "LeasedSource"]

log = get_logger("camsdk.cloud")


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    """What a vendor granted: seconds the session lasts from now, and its handle."""

    lasts: float
    handle: Any = None


Extend = Callable[[LeaseTerms], Awaitable[LeaseTerms | None]]
Stop = Callable[[LeaseTerms], Awaitable[None]]


class LeasedSource(WatchedSource):
    """A `PacketSource` whose vendor session is a lease (see the module docstring).

    ``extend(terms)`` returns new terms, or ``None`` (or raises a camsdk
    error) when the vendor will not extend: the source then ends so the
    session regenerates it. ``hard_max`` bounds the life of one session
    whatever the extensions. ``clock``/``sleep`` are injectable for tests.
    Keyframe requests go on to the inner source (a WebRTC PLI).
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
        super().__init__(inner, self._keep, explain=_lease_end, name="camsdk-lease")
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
        #: Extensions the vendor granted.
        self.extensions = 0

    @property
    def terms(self) -> LeaseTerms:
        """The lease as last granted."""
        return self._terms

    async def _keep(self) -> CamError:
        """Extend before each expiry; end the source when that is no longer possible."""
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
        return StreamEndedError(f"{reason}; opening a new one")

    async def aclose(self) -> None:
        """Stop extending, end the vendor's session, close the inner source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self.stop_watching()
        try:
            if self._stop is not None:
                with contextlib.suppress(CamError, TimeoutError):
                    async with asyncio.timeout(2.0):
                        await self._stop(self._terms)
        finally:
            await self._inner.aclose()


async def _lease_end(error: CamError | None) -> CamError:
    return error if error is not None else StreamEndedError("the vendor's live session ended")
