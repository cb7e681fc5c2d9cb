"""RTSPS with the console's pinned certificate, until the kit can carry a TLS context.

`camsdk.driver.StreamSource` has no place for an `ssl.SSLContext`, and
camsdk's RTSP client verifies ``rtsps://`` against the system CAs, which a
console's self-signed certificate never passes. Rather than turning
verification off, the driver's ``open_stream`` puts a one-connection
relay in between: it listens on 127.0.0.1 (an ephemeral port), accepts
exactly one connection and stops listening, connects to the console's
RTSPS port with the *pinned* context and copies bytes both ways. camsdk's
RTSP client then reads ``rtsp://127.0.0.1:<port>/<alias>`` (TCP
interleaved, so the one connection carries everything). The relay lives
as long as the stream and is closed with it.

The kit should let a `StreamSource` carry a TLS context (or a pinned
fingerprint); this module then goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

from camsdk.driver import PacketSource

__all__ = ["PinnedRelay", "RelayedSource"]

_CHUNK = 64 * 1024
LOOPBACK = "127.0.0.1"


class PinnedRelay:
    """One loopback connection relayed to ``host:port`` over pinned TLS (module docstring)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, *, timeout: float,
                 shown: str) -> None:
        self._host, self._port, self._context = host, port, context
        self._timeout = timeout
        self._shown = shown
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> int:
        """Listen on 127.0.0.1; return the port."""
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server, self._server = self._server, None
        if server is None:  # only the first connection is ours
            writer.transport.abort()
            return
        server.close()
        self._writers.append(writer)
        task = asyncio.get_running_loop().create_task(self._pipe(reader, writer),
                                                      name="camsdk-unifi-rtsps-relay")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                up_reader, up_writer = await asyncio.open_connection(
                    self._host, self._port, ssl=self._context, server_hostname=self._host)
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        self._writers.append(up_writer)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_copy(reader, up_writer))
                group.create_task(_copy(up_reader, writer))
        except* (OSError, ConnectionError):
            pass
        finally:
            for w in (writer, up_writer):
                w.transport.abort()

    async def aclose(self) -> None:
        """Stop listening and cut both connections. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(_CHUNK)
        if not data:
            writer.transport.abort()
            return
        writer.write(data)
        await writer.drain()


class RelayedSource:
    """A `PacketSource` read through a `PinnedRelay`, closing the relay with it."""

    def __init__(self, inner: PacketSource, relay: PinnedRelay) -> None:
        self._inner = inner
        self._relay = relay

    @property
    def info(self) -> Any:
        """Codec parameters of the stream."""
        return self._inner.info

    @property
    def live(self) -> bool:
        """A camera: packets arrive in real time."""
        return True

    @property
    def finite(self) -> bool:
        """A camera stream never ends for good."""
        return False

    def __aiter__(self) -> AsyncIterator[Any]:
        """The inner source's packets."""
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        """Close the stream, then the relay."""
        try:
            await self._inner.aclose()
        finally:
            await self._relay.aclose()
