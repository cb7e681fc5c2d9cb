"""Streamed request bodies (two-way audio uploads, firmware) for `DeviceHttpClient`.

A body given as an async iterable of bytes goes out chunk by chunk
(``Transfer-Encoding: chunked`` unless the caller declared a
``Content-Length``), as the iterable produces it. Authentication may have
to send a request twice (a Digest nonce gone stale), and an iterable can be
read only once, so `ReplayableBody` keeps the first `REPLAY_BYTES` it sent:
a request refused within them is sent again whole, a later refusal is a
`CameraProtocolError` (the body is gone). `DeviceHttpClient` makes the
second send rare by learning the device's challenge first (a bodiless
``HEAD``), so a streamed request is signed from its first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import httpx

from .._errors import CameraProtocolError
from ._errors import ErrorMapping

__all__ = ["REPLAY_BYTES", "ReplayableBody", "is_stream"]

#: Bytes of a streamed body kept to send it again after an authentication retry.
REPLAY_BYTES = 256 * 1024


def is_stream(content: object) -> bool:
    """Whether ``content`` is a streamed body (an async iterable, not bytes or text)."""
    return isinstance(content, AsyncIterable) and not isinstance(content, bytes | str)


class ReplayableBody(httpx.AsyncByteStream):
    """An async iterable of bytes as an httpx request stream, replayable within its head."""

    def __init__(self, chunks: AsyncIterable[bytes], *, errors: ErrorMapping, action: str,
                 replay_bytes: int = REPLAY_BYTES) -> None:
        self._source = chunks.__aiter__()
        self._kept: list[bytes] = []
        self._kept_bytes = 0
        self._overflowed = False
        self._exhausted = False
        self._errors = errors
        self._action = action
        self._limit = replay_bytes
        self._passes = 0
        #: Bytes handed to the connection so far, over every pass.
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._passes += 1
        if self._passes > 1:
            if self._overflowed:
                raise CameraProtocolError(
                    f"{self._action}: the device refused the request after more than "
                    f"{self._limit} bytes of its streamed body; they cannot be sent again",
                    scheme=self._errors.scheme, url=self._errors.url,
                )
            for chunk in self._kept:
                self.sent += len(chunk)
                yield chunk
        while not self._exhausted:
            try:
                chunk = await anext(self._source)
            except StopAsyncIteration:
                self._exhausted = True
                return
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError("a streamed request body must yield bytes")
            data = bytes(chunk)
            if not data:
                continue  # an empty chunk would end a chunked body early
            if not self._overflowed:
                if self._kept_bytes + len(data) <= self._limit:
                    self._kept.append(data)
                    self._kept_bytes += len(data)
                else:
                    self._overflowed = True
                    self._kept.clear()
            self.sent += len(data)
            yield data

    async def aclose(self) -> None:
        """Close the caller's iterable if it can be closed (an async generator)."""
        self._exhausted = True
        closer = getattr(self._source, "aclose", None)
        if closer is not None:
            await closer()
