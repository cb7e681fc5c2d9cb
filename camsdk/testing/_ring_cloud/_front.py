"""One loopback port for the whole simulated Ring cloud, each connection routed by its head.

Ring's services live on several hosts; the simulator serves them all on one
port (`RingCloud.url`): this front reads each connection's first request
head, sends websocket upgrades to the ``websockets`` server (signalling and
push) and everything else to the `HttpDevice`, then copies bytes both ways.
A relayed connection can be made *silent* (bytes dropped both ways, the
socket left open: a half-open connection) or cut; ``silent_kinds`` makes new
connections of a kind start silent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

__all__ = ["Front"]

_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024

Route = Callable[[bytes], Awaitable[tuple[int, str] | None]]


class _Relayed:
    def __init__(self, kind: str, client: asyncio.StreamWriter) -> None:
        self.kind = kind
        self.silent = False
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None

    def cut(self) -> None:
        self.client.transport.abort()
        if self.upstream is not None:
            self.upstream.transport.abort()


class Front:
    """A plain TCP listener on 127.0.0.1 relaying to the back end ``route`` names."""

    def __init__(self, route: Route) -> None:
        self._route = route
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[_Relayed] = set()
        self.silent_kinds: set[str] = set()
        self.port = 0

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0,
                                                  limit=_HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer),
                                                      name="camsdk-sim-ring-front")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relayed: _Relayed | None = None
        try:
            try:
                async with asyncio.timeout(10.0):
                    head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    OSError):
                return
            target = await self._route(head)
            if target is None:
                return
            port, kind = target
            relayed = _Relayed(kind, writer)
            relayed.silent = kind in self.silent_kinds
            self._connections.add(relayed)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            relayed.upstream = up_writer
            up_writer.write(head)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._copy(reader, up_writer, relayed))
                group.create_task(self._copy(up_reader, writer, relayed))
        except* (OSError, ConnectionError):
            pass
        finally:
            if relayed is not None:
                self._connections.discard(relayed)
                relayed.cut()
            writer.transport.abort()

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    relayed: _Relayed) -> None:
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                relayed.cut()
                return
            if relayed.silent:
                continue  # half-open: the bytes go nowhere, nobody is told
            writer.write(data)
            await writer.drain()

    def count(self, kind: str) -> int:
        """Open relayed connections of ``kind``."""
        return sum(1 for c in self._connections if c.kind == kind)

    def silence(self, kind: str, on: bool = True) -> int:
        """Make connections of ``kind`` (open and future) silent, or audible again; how many."""
        if on:
            self.silent_kinds.add(kind)
        else:
            self.silent_kinds.discard(kind)
        found = [c for c in self._connections if c.kind == kind]
        for conn in found:
            conn.silent = on
        return len(found)

    def cut(self, kind: str) -> int:
        """Abort every relayed connection of ``kind``; how many."""
        found = [c for c in self._connections if c.kind == kind]
        for conn in found:
            conn.cut()
        return len(found)

    async def aclose(self) -> None:
        """Stop listening and cut everything."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._connections):
            conn.cut()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await server.wait_closed()
