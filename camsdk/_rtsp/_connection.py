"""The RTSP control connection: TCP, TLS (rtsps) or an HTTP tunnel.

`RtspProtocol` is an asyncio protocol (no reader task, no thread): bytes go
straight from the event loop into an `RtspFramer`, and from there RTP/RTCP
frames go to the channel handlers and responses to the session. Writes are
bounded: `Connection.drain` waits while the kernel buffer is full.

The HTTP tunnel is QuickTime's: a GET connection carries everything the
server says, a POST connection carries the client's requests in base64, both
tied by an ``x-sessioncookie``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import ssl
from collections.abc import Callable

from camsdk._errors import (
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
)

from ._message import HEADER_LIMIT, RtspFramer, RtspRequest, RtspResponse, render_response
from ._urls import Origin

__all__ = ["Connection", "RtspProtocol", "open_connection"]

_HIGH_WATER = 256 * 1024


class RtspProtocol(asyncio.Protocol):
    """Frames one connection; reports responses, server requests, frames and its end."""

    def __init__(self, *, http_head: bool = False) -> None:
        self.channels: dict[int, Callable[[bytes], None]] = {}
        self.on_response: Callable[[RtspResponse], None] = _ignore
        self.on_closed: Callable[[BaseException | None], None] = _ignore
        self.framer = RtspFramer(_ignore_frame, self._response, self._request, self.channels)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: BaseException | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        # HTTP tunnel: the GET connection first carries an HTTP response head.
        self._http_pending = http_head
        self._http_buf = b""
        self.http_ready: asyncio.Future[None] | None = None
        if http_head:
            self.http_ready = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Frame what arrived; a framing error closes the connection."""
        if self.closed:
            return
        if self._http_pending:
            data = self._http_head(data)
            if not data:
                return
        try:
            self.framer.feed(data)
        except CameraProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        """The camera closed its side: close ours too."""
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        """Report the end once (``None``: a clean close by the camera)."""
        self._writable.set()
        if self.closed:
            return
        self.closed = True
        if exc is not None and self.error is None:
            self.error = exc
        if self.http_ready is not None and not self.http_ready.done():
            self.http_ready.set_exception(CameraUnreachableError(
                "the camera closed the HTTP tunnel"))
            self.http_ready.exception()
        self.on_closed(self.error)

    def pause_writing(self) -> None:
        """The write buffer is full: `wait_writable` waits."""
        self._writable.clear()

    def resume_writing(self) -> None:
        """The write buffer drained."""
        self._writable.set()

    # -- framer callbacks ----------------------------------------------------------------

    def _response(self, response: RtspResponse) -> None:
        self.on_response(response)

    def _request(self, request: RtspRequest) -> None:
        # Servers rarely ask anything; keepalive probes get a yes, the rest a no.
        ok = request.method in ("OPTIONS", "GET_PARAMETER")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(render_response(200 if ok else 501, "OK" if ok else
                                                 "Not Implemented", request.header("cseq")))

    # -- helpers -------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if self.transport is not None:
            self.transport.abort()

    def _http_head(self, data: bytes) -> bytes:
        buf = self._http_buf + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > HEADER_LIMIT:
                self._fail(CameraProtocolError("HTTP tunnel answer is too large"))
            self._http_buf = buf
            return b""
        status = buf[:end].split(b"\r\n", 1)[0].split(b" ")
        self._http_pending = False
        self._http_buf = b""
        assert self.http_ready is not None
        if len(status) < 2 or not status[0].startswith(b"HTTP/") or status[1] != b"200":
            code = status[1].decode("ascii", "replace")[:3] if len(status) > 1 else "?"
            err = CameraProtocolError(f"the camera refused the HTTP tunnel (HTTP {code})")
            if not self.http_ready.done():
                self.http_ready.set_exception(err)
                self.http_ready.exception()
            self._fail(err)
            return b""
        if not self.http_ready.done():
            self.http_ready.set_result(None)
        return buf[end + 4 :]

    async def wait_writable(self) -> None:
        """Wait while the transport's buffer is above its high-water mark."""
        await self._writable.wait()


def _ignore(*_: object) -> None:
    return None


def _ignore_frame(channel: int, data: bytes) -> None:
    """A frame on a channel nobody set up (a camera's stray RTCP, say): dropped."""


class _Sink(asyncio.Protocol):
    """The POST side of an HTTP tunnel: the server never answers on it."""

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self._on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        """The POST side ended: the tunnel is unusable."""
        self._on_lost()


class Connection:
    """An open control connection (one socket, or the two of an HTTP tunnel)."""

    def __init__(self, origin: Origin, transport: asyncio.Transport, protocol: RtspProtocol,
                 post: asyncio.Transport | None = None) -> None:
        self.origin = origin
        self.transport = transport
        self.protocol = protocol
        self._post = post
        sock = transport.get_extra_info("sockname")
        peer = transport.get_extra_info("peername")
        self.local_host: str = sock[0] if isinstance(sock, tuple) else "0.0.0.0"
        self.peer_host: str = peer[0] if isinstance(peer, tuple) else origin.host
        transport.set_write_buffer_limits(high=_HIGH_WATER)

    @property
    def tunnelled(self) -> bool:
        """Whether this is an HTTP tunnel."""
        return self._post is not None

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self.protocol.closed

    def write(self, data: bytes) -> None:
        """Queue bytes for the server (base64 through a tunnel)."""
        if self._post is not None:
            if not self._post.is_closing():
                self._post.write(base64.b64encode(data))
        elif not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the write buffer is below its high-water mark."""
        await self.protocol.wait_writable()

    def pause_reading(self) -> None:
        """Stop reading (TCP back-pressure on the server)."""
        with contextlib.suppress(RuntimeError, AttributeError):
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again after `pause_reading`."""
        with contextlib.suppress(RuntimeError, AttributeError):
            self.transport.resume_reading()

    def abort(self) -> None:
        """Close at once, dropping anything unsent."""
        self.transport.abort()
        if self._post is not None:
            self._post.abort()

    async def close(self, linger: float = 0.5) -> None:
        """Flush what is queued (at most ``linger`` seconds), then close."""
        transports = [t for t in (self.transport, self._post) if t is not None]
        for transport in transports:
            if not transport.is_closing():
                transport.close()
        if not self.protocol.closed:
            waiter = asyncio.get_running_loop().create_future()
            previous = self.protocol.on_closed

            def done(exc: BaseException | None) -> None:
                previous(exc)
                if not waiter.done():
                    waiter.set_result(None)

            self.protocol.on_closed = done
            try:
                async with asyncio.timeout(linger):
                    await waiter
            except TimeoutError:
                pass
        for transport in transports:
            transport.abort()


def _connect_error(exc: OSError, origin: Origin) -> CameraUnreachableError:
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or type(exc).__name__
        return CameraUnreachableError(f"TLS handshake with {origin.netloc} failed: {reason}")
    return CameraUnreachableError(f"cannot connect to {origin.netloc}: {exc.strerror or exc}")


async def _open_socket(
    origin: Origin, port: int, tls: ssl.SSLContext | None, timeout: float,
    factory: Callable[[], asyncio.Protocol], pinned_sha256: str | None = None,
) -> tuple[asyncio.Transport, asyncio.Protocol]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(
                factory, origin.host, port, ssl=tls,
                server_hostname=origin.host if tls is not None else None,
            )
    except TimeoutError:
        raise CameraTimeoutError(
            f"no connection to {origin.netloc} within {timeout:g} s") from None
    except OSError as exc:  # ssl.SSLError and socket.gaierror are OSErrors
        raise _connect_error(exc, origin) from exc
    assert isinstance(transport, asyncio.Transport)
    if tls is not None and pinned_sha256 is not None:
        _check_pin(transport, pinned_sha256, origin)
    return transport, protocol


def pin_context() -> ssl.SSLContext:
    """A client context for a pinned server: the fingerprint check after the handshake
    is the trust, so the handshake itself verifies neither CAs nor names."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _check_pin(transport: asyncio.Transport, pinned_sha256: str, origin: Origin) -> None:
    """Abort ``transport`` unless the server's certificate has the pinned fingerprint."""
    tls = transport.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    seen = hashlib.sha256(der).hexdigest() if der else ""
    if not hmac.compare_digest(seen, pinned_sha256):
        transport.abort()
        raise CameraUnreachableError(
            f"TLS certificate of {origin.netloc} is not the pinned one "
            f"(pinned sha256 {pinned_sha256}, presented sha256 {seen or 'none'}); refused"
        )


async def open_connection(
    origin: Origin, *, tls: ssl.SSLContext | None, timeout: float, path: str,
    tunnel: bool = False, http_port: int | None = None, user_agent: str = "camsdk",
    pinned_sha256: str | None = None,
) -> Connection:
    """Connect to ``origin`` (TLS for rtsps), directly or through an HTTP tunnel.

    ``pinned_sha256``: the server certificate must have this SHA-256
    fingerprint (every TLS connection, the tunnel's two included).
    """
    # TLS exactly for rtsps: a context given for a plain rtsp URL is not used.
    if origin.scheme == "rtsps":
        tls = tls or (pin_context() if pinned_sha256 else ssl.create_default_context())
    else:
        tls, pinned_sha256 = None, None
    if not tunnel:
        transport, protocol = await _open_socket(origin, origin.port, tls, timeout, RtspProtocol,
                                                 pinned_sha256)
        assert isinstance(protocol, RtspProtocol)
        return Connection(origin, transport, protocol)
    return await _open_tunnel(origin, tls, timeout, path, http_port, user_agent, pinned_sha256)


async def _open_tunnel(origin: Origin, tls: ssl.SSLContext | None, timeout: float, path: str,
                       http_port: int | None, user_agent: str,
                       pinned_sha256: str | None = None) -> Connection:
    port = http_port or origin.port
    cookie = secrets.token_hex(11)
    transport, protocol = await _open_socket(
        origin, port, tls, timeout, lambda: RtspProtocol(http_head=True), pinned_sha256)
    assert isinstance(protocol, RtspProtocol) and protocol.http_ready is not None
    post: asyncio.Transport | None = None
    try:
        host = origin.netloc
        transport.write((
            f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n"
            f"x-sessioncookie: {cookie}\r\nAccept: application/x-rtsp-tunnelled\r\n"
            "Pragma: no-cache\r\nCache-Control: no-cache\r\n\r\n").encode())
        try:
            async with asyncio.timeout(timeout):
                await protocol.http_ready
        except TimeoutError:
            raise CameraTimeoutError("the camera did not answer the HTTP tunnel GET") from None
        post, _ = await _open_socket(origin, port, tls, timeout,
                                     lambda: _Sink(lambda: transport.abort()), pinned_sha256)
        post.write((
            f"POST {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n"
            f"x-sessioncookie: {cookie}\r\nContent-Type: application/x-rtsp-tunnelled\r\n"
            "Pragma: no-cache\r\nCache-Control: no-cache\r\nContent-Length: 32767\r\n"
            "Expires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n").encode())
        return Connection(origin, transport, protocol, post)
    except BaseException:
        transport.abort()
        if post is not None:
            post.abort()
        raise
