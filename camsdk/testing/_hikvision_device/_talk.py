"""The raw ``audioData`` upload of ISAPI two-way audio, on top of `HttpDevice`.

Firmware answers ``PUT .../audioData`` (declared ``Content-Length: 0``) with
``200`` and then reads raw G.711 from the same connection until the client
closes it. `IsapiHttpDevice` answers a `TalkUpload` that way and hands the
bytes to its sink; every other answer goes through `HttpDevice` unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from camsdk.testing._http_device import HttpDevice, Response, StreamingResponse
from camsdk.testing._http_device._server import Route

__all__ = ["IsapiHttpDevice", "TalkUpload"]

#: Audio kept per connection at most (a minute of G.711 is 480 kB).
_MAX_AUDIO = 8 * 1024 * 1024


class TalkUpload(Response):
    """A handler's answer meaning: say 200, then read raw audio into ``sink``."""

    __slots__ = ("sink",)

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        super().__init__(200)
        self.sink = sink


class IsapiHttpDevice(HttpDevice):
    """`HttpDevice` that also speaks the raw ``audioData`` upload."""

    async def _write(
        self,
        route: Route | None,
        response: Response | StreamingResponse,
        head_only: bool,
        keep: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        if not isinstance(response, TalkUpload):
            return await super()._write(route, response, head_only, keep, reader, writer)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                     b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        received = 0
        while self._running() and received < _MAX_AUDIO:
            data = await reader.read(64 * 1024)
            if not data:
                break
            received += len(data)
            response.sink(data)
        return False
