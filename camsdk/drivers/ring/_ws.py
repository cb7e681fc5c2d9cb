"""Websockets to Ring (live view signalling, the push channel), with camsdk's rules.

On the ``websockets`` library (as the UniFi driver): only hosts the driver
may contact (`host_allowed`), redirects refused, no proxy from the
environment, TLS verified with a default context built off the event loop,
bounded messages and receive queue, and every failure a camsdk error.
`Socket.recv` also watches liveness as *bytes received*: nothing for
``window`` seconds is a `StreamStalledError` (a half-open connection sends
nothing and reports nothing).

The kit should offer this (a ``DeviceWebSocket`` beside `DeviceHttpClient`);
this module and the UniFi driver's ``_ws`` are two copies of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    PayloadTooBig,
    WebSocketException,
)

from camsdk.driver import (
    AuthenticationError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    DeviceError,
    RedirectRefusedError,
    StreamStalledError,
    host_allowed,
    redact_text,
)

__all__ = ["MAX_MESSAGE", "Socket", "open_socket"]

#: Largest message accepted (SDP answers and notifications are a few kB).
MAX_MESSAGE = 1024 * 1024
_TLS: ssl.SSLContext | None = None


class _Stamped(ClientConnection):
    """A client connection that remembers when the socket last delivered bytes."""

    last_received = 0.0

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        super().data_received(data)


class _NoRedirects(connect):
    """``connect`` that treats every redirect as the failure it is (host pinning)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def translate(exc: BaseException, *, action: str, shown: str) -> CamError:
    """A websocket failure as a camsdk error."""
    where: dict[str, Any] = {"scheme": "ring", "url": shown}
    if isinstance(exc, CamError):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthenticationError(f"{action}: Ring refused the connection (HTTP {status})",
                                       **where)
        if 300 <= status < 400:
            return RedirectRefusedError(f"{action}: redirected; not followed", **where)
        return DeviceError(f"{action}: Ring answered HTTP {status}", code=str(status), **where)
    if isinstance(exc, TimeoutError):
        return CameraTimeoutError(f"{action}: timed out", **where)
    if isinstance(exc, ssl.SSLError):
        return CameraUnreachableError(f"{action}: TLS failed ({type(exc).__name__})", **where)
    if isinstance(exc, PayloadTooBig):
        return CameraProtocolError(f"{action}: a message larger than {MAX_MESSAGE} bytes",
                                   **where)
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd else "none"
        return CameraUnreachableError(f"{action}: the websocket closed (code {code})", **where)
    if isinstance(exc, InvalidHandshake | WebSocketException):
        return CameraProtocolError(f"{action}: websocket handshake failed "
                                   f"({type(exc).__name__})", **where)
    if isinstance(exc, OSError):
        return CameraUnreachableError(f"{action}: connection failed ({type(exc).__name__})",
                                      **where)
    return CameraProtocolError(f"{action}: {type(exc).__name__}", **where)


class Socket:
    """An open websocket; `recv` watches liveness (see the module docstring)."""

    def __init__(self, connection: _Stamped, *, action: str, shown: str) -> None:
        self._ws = connection
        self.action = action
        self.shown = shown
        connection.last_received = time.monotonic()

    @property
    def idle(self) -> float:
        """Seconds since the socket last delivered a byte."""
        return time.monotonic() - self._ws.last_received

    async def recv(self, window: float | None = None) -> str | bytes:
        """The next message; `StreamStalledError` when no byte came for ``window`` s."""
        if window is None:
            try:
                return await self._ws.recv()
            except Exception as exc:
                raise translate(exc, action=self.action, shown=self.shown) from exc
        tick = max(window / 4, 0.01)
        while True:
            try:
                async with asyncio.timeout(tick):
                    return await self._ws.recv()
            except TimeoutError:
                pass
            except Exception as exc:
                raise translate(exc, action=self.action, shown=self.shown) from exc
            if self.idle >= window:
                raise StreamStalledError(
                    f"{self.action}: nothing received for {self.idle:.1f} s "
                    "(half-open connection?)", scheme="ring", url=self.shown)

    async def send(self, message: str) -> None:
        """Send a text message."""
        try:
            await self._ws.send(message)
        except Exception as exc:
            raise translate(exc, action=self.action, shown=self.shown) from exc

    async def aclose(self) -> None:
        """Close; a peer that does not answer the close is cut off."""
        ws = self._ws
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close()
        ws.transport.abort()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.wait_closed()


async def _tls() -> ssl.SSLContext:
    global _TLS
    if _TLS is None:
        # Loading the CA bundle takes tens of ms: not on the event loop.
        _TLS = await asyncio.to_thread(ssl.create_default_context)
    return _TLS


async def open_socket(
    url: str,
    *,
    action: str,
    shown: str,
    hosts: Iterable[str],
    timeout: float,
    headers: Mapping[str, str] | None = None,
    verify_tls: bool = True,
) -> Socket:
    """Open ``url`` (``ws://`` or ``wss://``) on an allowed host (module docstring)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("ws", "wss") or not host_allowed(host, hosts):
        raise RedirectRefusedError(
            f"{action}: refused a websocket to a host the driver may not contact",
            scheme="ring", url=shown, location=redact_text(f"{parts.scheme}://{host}")[:200])
    context: ssl.SSLContext | None = None
    if parts.scheme == "wss":
        if verify_tls:
            context = await _tls()
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    connector = _NoRedirects(
        url, ssl=context, additional_headers=dict(headers or {}),
        user_agent_header="android:com.ringapp", proxy=None, compression=None,
        open_timeout=timeout, ping_interval=None, close_timeout=1.0, max_size=MAX_MESSAGE,
        max_queue=64, create_connection=_Stamped,
    )
    try:
        connection = await connector
    except Exception as exc:
        raise translate(exc, action=action, shown=shown) from exc
    assert isinstance(connection, _Stamped)
    return Socket(connection, action=action, shown=shown)
