"""`HttpDevice` itself: the asyncio server, routing, keep-alive and the connection loop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import replace
from http import HTTPStatus
from typing import Any

import httpx

from camsdk._log import get_logger
from camsdk.testing._lifecycle import Simulator

from ._auth import AUTH_MODES, AuthMode, DeviceLogin
from ._faults import Dropped, FaultInjection, Faults, Stalled, Wire
from ._messages import Handler, Request, RequestRecord, Response, StreamingResponse
from ._parse import HEADER_LIMIT, BadRequest, read_request

__all__ = ["HttpDevice", "Route"]

log = get_logger("camsdk.testing.http_device")

_ERRORS_KEPT = 100
# How long a closing connection may take to flush before it is aborted.
_CLOSE_GRACE = 1.0
# How long `aclose` waits for connection handlers before cancelling them.
_STOP_GRACE = 2.0


class Route(FaultInjection):
    """One route of an `HttpDevice` (see `HttpDevice.route`); faults set here apply to it only."""

    def __init__(
        self,
        method: str,
        path: str | re.Pattern[str],
        handler: Handler | Response,
        *,
        prefix: bool,
        auth: AuthMode | None,
    ) -> None:
        if auth is not None and auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {sorted(AUTH_MODES)}")
        self.method = method.upper()
        self.path = path
        self.prefix = prefix
        self.handler = handler
        self.auth = auth
        self.faults = Faults()
        #: Requests this route answered (including authentication challenges).
        self.hits = 0

    def match(self, path: str) -> re.Match[str] | bool:
        """A regex match, True for an exact or prefix match, False otherwise."""
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) or False
        return path.startswith(self.path) if self.prefix else path == self.path

    def allows(self, method: str) -> bool:
        """Whether this route answers ``method`` (HEAD is answered by GET routes)."""
        return self.method in ("*", method) or (method == "HEAD" and self.method == "GET")

    def __repr__(self) -> str:
        path = self.path.pattern if isinstance(self.path, re.Pattern) else self.path
        return f"<Route {self.method} {path}{'*' if self.prefix else ''} hits={self.hits}>"


class HttpDevice(FaultInjection, Simulator):
    """A loopback HTTP/1.1 device (see `camsdk.testing._http_device`). No I/O until `start`.

    ``tls`` (a server `ssl.SSLContext`) makes it ``https``. ``clock``
    (monotonic seconds) times lockouts, so tests can move time instead of
    waiting. ``max_request_body`` bounds request bodies (larger ones get a
    413); `requests` keeps the last ``log_size`` requests.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: AuthMode = "none",
        username: str = "admin",
        password: str = "camsdk-sim",
        realm: str = "camsdk",
        lockout_after: int | None = None,
        lockout_seconds: float = 30.0,
        lockout_response: Response | None = None,
        tls: ssl.SSLContext | None = None,
        max_request_body: int = 1024 * 1024,
        log_size: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {sorted(AUTH_MODES)}")
        self.host = host
        self.auth: AuthMode = auth
        #: The account: user name, realm, lockout settings and counters.
        self.login = DeviceLogin(
            username=username,
            password=password,
            realm=realm,
            lockout_after=lockout_after,
            lockout_seconds=lockout_seconds,
            lockout_response=lockout_response or Response(401, "locked"),
            clock=clock,
        )
        self.tls = tls
        self.max_request_body = max_request_body
        self.faults = Faults()
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._exact: dict[tuple[str, str], Route] = {}
        self._patterns: list[Route] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: The last requests, oldest first (``Authorization`` left out).
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=log_size)
        #: Exceptions raised by handlers (each answered with a 500), the last 100.
        self.errors: collections.deque[BaseException] = collections.deque(maxlen=_ERRORS_KEPT)
        self._connections = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Listen on ``host:port``."""
        self._server = await asyncio.start_server(
            self._serve,
            self.host,
            self._requested_port,
            ssl=self.tls,
            ssl_handshake_timeout=5.0 if self.tls is not None else None,
            limit=HEADER_LIMIT,
        )

    async def _stop_parts(self) -> None:
        """Stop listening and drop every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Aborting the sockets ends every handler's read or write; a stuck one is cancelled.
        for writer in list(self._writers):
            writer.transport.abort()
        handlers = list(self._handlers)
        if handlers:
            _, stuck = await asyncio.wait(handlers, timeout=_STOP_GRACE)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        self._notify()

    # -- addresses and state ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on."""
        if self._server is None:
            raise RuntimeError("HttpDevice is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https`` with ``tls``), no trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return self._connections

    @property
    def locked(self) -> bool:
        """Whether a lockout is in force."""
        return self.login.locked

    def unlock(self) -> None:
        """End a lockout and forget the wrong passwords counted so far."""
        self.login.unlock()

    @property
    def failed_logins(self) -> int:
        """Wrong credentials received (user name or password), ever."""
        return self.login.failed_logins

    @property
    def lockouts(self) -> int:
        """Times the device locked itself."""
        return self.login.lockouts

    async def wait_until(
        self, predicate: Callable[[HttpDevice], bool], timeout: float = 5.0
    ) -> None:
        """Wait until ``predicate(device)`` holds, re-checked after every request, response
        and connection change; `TimeoutError` after ``timeout`` seconds."""
        await self._wait_for(lambda: predicate(self), timeout)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "unbound"
        return f"<HttpDevice {where} {self._state} auth={self.auth}>"

    # -- routing ----------------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str | re.Pattern[str],
        handler: Handler | Response,
        *,
        prefix: bool = False,
        auth: AuthMode | None = None,
    ) -> Route:
        """Serve ``method`` (``"*"``: any) on ``path`` with ``handler``; returns the `Route`.

        ``path`` is exact, a compiled regex (full match) or, with
        ``prefix=True``, a prefix. ``auth`` overrides the device's mode for
        this route. An exact route replaces an earlier one on the same method
        and path.
        """
        route = Route(method, path, handler, prefix=prefix, auth=auth)
        if isinstance(path, str) and not prefix:
            self._exact[(route.method, path)] = route
        else:
            self._patterns.append(route)
        return route

    def _find(self, method: str, path: str) -> tuple[Route | None, re.Match[str] | None, set[str]]:
        """The route for ``method`` on ``path``, its regex match, and the methods ``path`` has."""
        for key in ((method, path), ("GET", path), ("*", path)):
            route = self._exact.get(key)
            if route is not None and route.allows(method):
                return route, None, set()
        allowed = {m for (m, p) in self._exact if p == path}
        for route in self._patterns:
            found = route.match(path)
            if not found:
                continue
            if route.allows(method):
                return route, found if isinstance(found, re.Match) else None, set()
            allowed.add(route.method)
        return None, None, allowed

    # -- connections ------------------------------------------------------------------------

    def _running(self) -> bool:
        return self._state == "running"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self._connections += 1
        self._notify()
        try:
            while self._running():
                incoming = await read_request(reader, max_body=self.max_request_body)
                if incoming is None or not await self._answer(incoming, reader, writer):
                    break
        except BadRequest as bad:
            await _reject(writer, bad.status)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, Dropped):
            pass
        except asyncio.CancelledError:
            pass  # the top of a server-owned task: asyncio would report it otherwise
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            self._connections -= 1
            await _close_writer(writer)
            self._notify()

    async def _answer(
        self,
        incoming: tuple[Request, bool],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Route, authenticate and answer one request; whether to keep the connection."""
        request, keep = incoming
        headers = httpx.Headers(
            [(k, v) for k, v in request.headers.multi_items() if k.lower() != "authorization"]
        )
        self.requests.append(RequestRecord(request.method, request.path, request.query, headers))
        self._notify()
        route, match, allowed = self._find(request.method, request.path)
        response: Response | StreamingResponse
        if route is None:
            if allowed:
                response = Response(405, headers={"Allow": ", ".join(sorted(allowed))})
            else:
                response = Response(404, "not found")
        else:
            route.hits += 1
            denial, user = self.login.check(route.auth or self.auth, request)
            if denial is not None:
                response = denial
            else:
                response = await self._handle(route, replace(request, match=match, user=user))
        head_only = request.method == "HEAD"
        try:
            return await self._write(route, response, head_only, keep, reader, writer)
        finally:
            self._notify()

    async def _handle(self, route: Route, request: Request) -> Response | StreamingResponse:
        handler = route.handler
        if isinstance(handler, Response):
            return handler
        try:
            response = await handler(request)
            if not isinstance(response, Response | StreamingResponse):
                raise TypeError(f"a handler returned {type(response).__name__}, not a Response")
            return response
        except Exception as exc:  # a simulator bug: answer 500 and keep it for the test
            self._handler_failed(route, exc)
            return Response(500, "handler failed")

    def _handler_failed(self, route: Route | None, exc: Exception) -> None:
        self.errors.append(exc)
        log.warning("handler of %r failed: %s: %s", route, type(exc).__name__, exc)

    async def _write(
        self,
        route: Route | None,
        response: Response | StreamingResponse,
        head_only: bool,
        keep: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Send ``response`` through the faults in force; whether the connection stays open."""

        def live_faults() -> Faults:
            return route.faults.over(self.faults) if route is not None else self.faults

        faults = live_faults()
        headers = [(n, v) for n, v in response.headers if n.lower() != "transfer-encoding"]
        declared = any(n.lower() == "content-length" for n, _ in headers)
        chunked = False
        if faults.content_length is not None:
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            headers.append(("Content-Length", str(faults.content_length)))
        elif isinstance(response, StreamingResponse):
            chunked = response.chunked and not declared
            if chunked:
                headers.append(("Transfer-Encoding", "chunked"))
            elif not declared:
                keep = False  # the body ends when the connection does
        elif not declared:
            headers.append(("Content-Length", str(len(response.body))))
        if any(n.lower() == "connection" and "close" in v.lower() for n, v in headers):
            keep = False  # the handler closes the connection after this answer
        elif not keep:
            headers.append(("Connection", "close"))
        head = f"HTTP/1.1 {response.status} {_phrase(response.status)}\r\n"
        head += "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
        wire = Wire(writer, live_faults, self._running)
        try:
            if faults.endless_headers is not None:
                await wire.send(head.split("\r\n", 1)[0].encode() + b"\r\n")
                await wire.endless_headers(faults.endless_headers)
            await wire.send(head.encode())
            if head_only:
                return keep
            if isinstance(response, StreamingResponse):
                body = response.chunks
                return await self._stream_body(route, body, chunked, wire, reader) and keep
            await wire.send(response.body)
        except Stalled:
            await self._hold_open(reader)
            return False
        except Dropped:
            return False
        finally:
            if isinstance(response, StreamingResponse):
                await _aclose_iterable(response.chunks)
        return keep

    async def _stream_body(
        self,
        route: Route | None,
        chunks: AsyncIterable[bytes],
        chunked: bool,
        wire: Wire,
        reader: asyncio.StreamReader,
    ) -> bool:
        """Write a streaming body; False when the client left before it ended."""
        iterator = aiter(chunks)
        # The client may leave while the body waits for its next chunk (an event
        # stream with nothing to say): watch for that instead of waiting forever.
        gone = asyncio.ensure_future(self._hold_open(reader))
        try:
            while True:
                step = asyncio.ensure_future(_next_chunk(iterator))
                await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    step.cancel()
                    await asyncio.gather(step, return_exceptions=True)
                    return False
                try:
                    chunk = step.result()
                except Exception as exc:  # the body's generator failed: cut the body short
                    self._handler_failed(route, exc)
                    return False
                if chunk is None:
                    break
                if chunk:
                    await wire.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                await wire.send(b"0\r\n\r\n")
            return True
        finally:
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)

    async def _hold_open(self, reader: asyncio.StreamReader) -> None:
        """Read (and discard) until the client closes or the device does."""
        while self._running():
            try:
                if not await reader.read(64 * 1024):
                    return
            except (ConnectionError, OSError):
                return


async def _next_chunk(iterator: AsyncIterator[bytes]) -> bytes | None:
    try:
        return bytes(await anext(iterator))
    except StopAsyncIteration:
        return None


async def _reject(writer: asyncio.StreamWriter, status: int) -> None:
    """Answer a request that could not be read (no faults apply); the caller hangs up."""
    head = f"HTTP/1.1 {status} {_phrase(status)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    writer.write(head.encode())
    with contextlib.suppress(ConnectionError, OSError):
        await writer.drain()


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    """Close, flushing what is queued for a moment; abort a peer that does not read."""
    writer.close()
    try:
        async with asyncio.timeout(_CLOSE_GRACE):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
        writer.transport.abort()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def _aclose_iterable(chunks: object) -> None:
    closer = getattr(chunks, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
