"""Streamed response bodies, read in bounded time and bounded memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import anyio
import httpx

from .._errors import CameraProtocolError, CameraTimeoutError, CamError
from ._errors import ErrorMapping

__all__ = ["BodyReader", "close_response"]


async def close_response(response: httpx.Response) -> None:
    """Close ``response`` even while the caller is being cancelled."""
    with anyio.CancelScope(shield=True):
        try:
            await response.aclose()
        except (httpx.HTTPError, OSError):
            pass  # the connection is already broken; closing it is all that was asked


class BodyReader:
    """Reads a streamed response chunk by chunk, each read bounded by ``idle_timeout``.

    ``on_idle`` builds the error for a read that got no byte in time (a
    `camsdk.StreamStalledError` for streams, a `camsdk.CameraTimeoutError`
    for stills); HTTP errors are translated by ``errors`` (the same mapping as
    the request). `unread` pushes bytes back in front (after sniffing the
    start of a body). A per-read timeout cannot catch a device that trickles
    one byte at a time; `read_all` and callers that assemble a unit (a JPEG,
    an event) take an overall ``deadline`` as well.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        idle_timeout: float,
        errors: ErrorMapping,
        action: str,
        on_idle: Callable[[], CamError] | None = None,
        decoded: bool = False,
    ) -> None:
        self.response = response
        self._chunks: AsyncIterator[bytes] = (
            response.aiter_bytes() if decoded else response.aiter_raw()
        )
        self._idle = idle_timeout
        self._on_idle = on_idle
        self._errors = errors
        #: The error mapping of the device this body comes from.
        self.errors = errors
        self._action = action
        self._head = b""
        self._done = False
        #: Bytes received so far.
        self.received = 0

    def _idle_error(self) -> CamError:
        if self._on_idle is not None:
            return self._on_idle()
        return CameraTimeoutError(
            f"{self._action}: no data for {self._idle:g} s",
            scheme=self._errors.scheme, url=self._errors.url,
        )

    async def chunk(self, *, timeout: float | None = None) -> bytes | None:
        """The next chunk of the body, or ``None`` at its end (waits at most ``timeout``)."""
        if self._head:
            head, self._head = self._head, b""
            return head
        if self._done:
            return None
        wait = self._idle if timeout is None else min(self._idle, timeout)
        try:
            async with asyncio.timeout(wait) as deadline:
                data = await anext(self._chunks)
        except StopAsyncIteration:
            self._done = True
            return None
        except TimeoutError:
            if deadline.expired():
                if timeout is not None and timeout < self._idle:
                    # The caller's overall deadline passed, not the idle one.
                    raise CameraTimeoutError(
                        f"{self._action}: no complete answer in time",
                        scheme=self._errors.scheme, url=self._errors.url,
                    ) from None
                raise self._idle_error() from None
            raise
        except (httpx.HTTPError, OSError) as exc:
            raise self._errors.translate(exc, self._action) from exc
        self.received += len(data)
        return data

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of the next chunk."""
        if data:
            self._head = data + self._head

    async def peek(self, size: int) -> bytes:
        """At least ``size`` bytes from the start (fewer if the body is shorter), unread."""
        data = b""
        while len(data) < size:
            chunk = await self.chunk()
            if chunk is None:
                break
            data += chunk
        self.unread(data)
        return data[:size]

    async def read_all(self, limit: int, what: str, *, deadline: float | None = None) -> bytes:
        """The rest of the body, within ``deadline`` seconds overall when given.

        `camsdk.CameraProtocolError` as soon as it passes ``limit`` bytes.
        """
        parts: list[bytes] = []
        total = 0
        end = None if deadline is None else time.monotonic() + deadline
        while True:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise CameraTimeoutError(
                    f"{what} did not arrive within {deadline:g} s",
                    scheme=self._errors.scheme, url=self._errors.url,
                )
            chunk = await self.chunk(timeout=remaining)
            if chunk is None:
                break
            total += len(chunk)
            if total > limit:
                raise CameraProtocolError(
                    f"{what} exceeds the {limit}-byte cap",
                    scheme=self._errors.scheme, url=self._errors.url,
                )
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Finish the chunk iterator and close the response. Idempotent."""
        self._done = True
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await closer()
                except (httpx.HTTPError, OSError, RuntimeError):
                    # RuntimeError: the generator is running in a cancelled read.
                    pass
        await close_response(self.response)
