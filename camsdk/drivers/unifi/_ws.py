"""Websockets to the console, on the ``websockets`` library, with camsdk's rules.

- TLS with the session's pinned context (or the system CAs), the console's
  host only: redirects are refused, never followed; no proxy from the
  environment;
- bounded frames (``max_size``) and a bounded receive queue;
- the session's cookie and CSRF token, or its API key, in the handshake;
- liveness is *bytes received*: the connection stamps every read from the
  socket, and `LiveSocket.recv` declares it dead when nothing arrived for
  ``window`` seconds. A ping is sent every third of the window so a healthy
  console always has something to answer; on a half-open socket the ping is
  written happily and never answered, which is why sending proves nothing;
- every failure is a camsdk error (`ErrorMapping` style): 401/403 an
  `AuthenticationError`, a refused TLS handshake `CameraUnreachableError`,
  a bad handshake `CameraProtocolError`.

The kit should offer this (a ``DeviceWebSocket`` beside `DeviceHttpClient`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from typing import TYPE_CHECKING, Any

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
)

if TYPE_CHECKING:  # pragma: no cover
    from ._session import ConsoleSession

__all__ = ["LiveSocket", "open_socket"]

#: Largest websocket message accepted (a bootstrap-sized update is far smaller).
MAX_MESSAGE = 4 * 1024 * 1024


class _StampedConnection(ClientConnection):
    """A client connection that remembers when the socket last delivered bytes."""

    last_received = 0.0

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        super().data_received(data)


class _NoRedirects(connect):
    """``connect`` that treats every redirect as the failure it is (host pinning)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _translate(exc: BaseException, session: ConsoleSession, action: str) -> CamError:
    where: dict[str, Any] = {"scheme": "unifi", "url": session.shown}
    if isinstance(exc, CamError):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthenticationError(f"{action}: the console refused the session (HTTP {status})",
                                       **where)
        if 300 <= status < 400:
            return RedirectRefusedError(f"{action}: the console redirected the websocket; "
                                        "not followed", **where)
        return DeviceError(f"{action}: the console answered HTTP {status}", code=str(status),
                           **where)
    if isinstance(exc, TimeoutError):
        return CameraTimeoutError(f"{action}: timed out", **where)
    if isinstance(exc, ssl.SSLError):
        return CameraUnreachableError(
            f"{action}: TLS failed ({type(exc).__name__}; a console whose certificate is no "
            "longer the pinned one is refused)", **where)
    if isinstance(exc, PayloadTooBig):
        return CameraProtocolError(f"{action}: a message larger than {MAX_MESSAGE} bytes",
                                   **where)
    if isinstance(exc, ConnectionClosed):
        return CameraUnreachableError(f"{action}: the console closed the websocket "
                                      f"(code {exc.rcvd.code if exc.rcvd else 'none'})", **where)
    if isinstance(exc, InvalidHandshake | WebSocketException):
        return CameraProtocolError(f"{action}: websocket handshake failed "
                                   f"({type(exc).__name__})", **where)
    if isinstance(exc, OSError):
        return CameraUnreachableError(f"{action}: connection failed ({type(exc).__name__})",
                                      **where)
    return CameraProtocolError(f"{action}: {type(exc).__name__}", **where)


class LiveSocket:
    """An open websocket whose liveness is bytes received (see the module docstring)."""

    def __init__(self, connection: _StampedConnection, session: ConsoleSession, *,
                 window: float, action: str) -> None:
        self._ws = connection
        self._session = session
        self.window = window
        self.action = action
        connection.last_received = time.monotonic()
        #: Pings sent for liveness.
        self.pings = 0

    @property
    def idle(self) -> float:
        """Seconds since the socket last delivered a byte."""
        return time.monotonic() - self._ws.last_received

    async def recv(self) -> bytes | str:
        """The next message; `StreamStalledError` when no byte came for ``window`` s."""
        tick = max(self.window / 3, 0.01)
        while True:
            try:
                async with asyncio.timeout(tick):
                    return await self._ws.recv()
            except TimeoutError:
                pass
            except Exception as exc:
                raise _translate(exc, self._session, self.action) from exc
            if self.idle >= self.window:
                raise StreamStalledError(
                    f"{self.action}: no byte from the console for {self.idle:.1f} s "
                    "(half-open connection?)", scheme="unifi", url=self._session.shown)
            with contextlib.suppress(Exception):
                await self._ws.ping()  # answered by a pong: bytes from a live console
                self.pings += 1

    async def aclose(self) -> None:
        """Close the websocket; a console that does not answer the close is cut off."""
        ws = self._ws
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close()
        ws.transport.abort()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.wait_closed()


async def open_socket(session: ConsoleSession, path: str, *, window: float, action: str
                      ) -> LiveSocket:
    """Open ``wss://<console><path>`` as ``session`` (see the module docstring)."""
    context: ssl.SSLContext | bool
    if session.ssl_context is not None:
        context = session.ssl_context
    elif not session.config.verify_tls:
        context = _unverified()  # the caller's explicit flag; the facade warned
    else:
        context = True
    connector = _NoRedirects(
        f"wss://{session.netloc}{path}",
        ssl=context,
        server_hostname=session.host,
        additional_headers=session.auth_headers(),
        user_agent_header="camsdk",
        proxy=None,
        compression=None,
        open_timeout=session.config.connect_timeout,
        ping_interval=None,
        close_timeout=1.0,
        max_size=MAX_MESSAGE,
        max_queue=64,
        create_connection=_StampedConnection,
    )
    try:
        connection = await connector
    except Exception as exc:
        raise _translate(exc, session, action) from exc
    assert isinstance(connection, _StampedConnection)
    return LiveSocket(connection, session, window=window, action=action)
