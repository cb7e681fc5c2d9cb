"""One loopback port in front of several back ends, each connection routed by its head.

A console or a cloud serves many things on one port (a web API, websockets,
RTSPS); its simulator runs plain loopback back ends (an `HttpDevice`, a
``websockets`` server, an `RtspServer`) and puts a `RelayFront` before them:
it reads each connection's first request head (after terminating TLS, when
given a context), asks ``route`` for the back end's port and a *kind* label,
and copies bytes both ways. A relayed connection can be made *silent* (bytes
in both directions dropped, the socket left open: a half-open connection, as
a NAT that forgot the flow leaves it) or cut; ``silent_kinds`` makes new
connections of a kind start silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable

__all__ = ["RelayFront", "Relayed", "Route"]

_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024

#: Given a connection's first request head: (back end port, kind), or None to drop it.
Route = Callable[[bytes], Awaitable[tuple[int, str] | None]]


class Relayed:
    """One relayed connection: its kind (the route's label) and its silence switch."""

    def __init__(self, kind: str, client: asyncio.StreamWriter) -> None:
        self.kind = kind
        self.silent = False
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None

    def cut(self) -> None:
        """Abort both sides."""
        self.client.transport.abort()
        if self.upstream is not None:
            self.upstream.transport.abort()


class RelayFront:
    """A listener on ``host`` (TLS with ``tls``) relaying to the back end ``route`` names."""

    def __init__(self, route: Route, *, tls: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1", name: str = "camsdk-sim-front") -> None:
        self._route = route
        self._tls = tls
        self._host = host
        self._name = name
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections: set[Relayed] = set()
        #: Kinds whose new connections start silent.
        self.silent_kinds: set[str] = set()
        self.port = 0

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        handshake = 5.0 if self._tls is not None else None
        self._server = await asyncio.start_server(self._accept, self._host, 0, ssl=self._tls,
                                                  ssl_handshake_timeout=handshake,
                                                  limit=_HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer),
                                                      name=self._name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relayed: Relayed | None = None
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
            relayed = Relayed(kind, writer)
            relayed.silent = kind in self.silent_kinds
            self.connections.add(relayed)
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
                self.connections.discard(relayed)
                relayed.cut()
            writer.transport.abort()

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    relayed: Relayed) -> None:
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
        return sum(1 for c in self.connections if c.kind == kind)

    def silence(self, kind: str) -> int:
        """Make every open relayed connection of ``kind`` silent; how many."""
        found = [c for c in self.connections if c.kind == kind]
        for conn in found:
            conn.silent = True
        return len(found)

    def cut(self, kind: str) -> int:
        """Abort every relayed connection of ``kind``; how many."""
        found = [c for c in self.connections if c.kind == kind]
        for conn in found:
            conn.cut()
        return len(found)

    async def aclose(self) -> None:
        """Stop listening and cut everything."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
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
