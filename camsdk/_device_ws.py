"""`DeviceWebSocket`: a websocket to a device or a cloud, with camsdk's rules.

Built on the ``websockets`` library, for what vendors push over websockets
(UniFi Protect's updates, cloud event feeds, WebRTC signalling):

- **host pinning**: the URL's host must be one the caller allows (the
  camera URL's host, `CameraConfig.allow_redirect_hosts`, a cloud driver's
  `egress_hosts`); a redirect is refused, never followed
  (`camsdk.RedirectRefusedError`); ``ws://`` is refused where ``wss://``
  was required; no proxy from the environment;
- **TLS** verified with the shared system context, or the caller's
  `ssl.SSLContext` (a pinned self-signed certificate); ``verify_tls=False``
  only by the camera's explicit flag;
- **bounded**: one message is at most ``max_size`` bytes (after any
  decompression, which is off unless asked for), at most ``max_queue``
  messages wait for the reader, the opening handshake has
  ``connect_timeout``, each send ``request_timeout``;
- **liveness is bytes received**: every read from the socket is stamped,
  and `DeviceWebSocket.recv` declares the connection dead when nothing
  arrived for ``idle_timeout`` seconds. A ping goes out every third of
  that window while the socket is quiet, so a live peer always has
  something to answer; on a half-open connection the ping is written
  happily and never answered, which is why sending proves nothing;
- **one error mapping**: 401/403 at the handshake are an
  `AuthenticationError`, other refusals a `DeviceError` with the status, a
  failed TLS handshake or a dropped connection `CameraUnreachableError`, a
  malformed handshake or an oversized message `CameraProtocolError`.

Messages and handshake headers are never logged by camsdk; the
``websockets`` loggers are scrubbed like camsdk's own (`camsdk._log`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    PayloadTooBig,
    WebSocketException,
)
from websockets.typing import Subprotocol

from ._errors import (
    AuthenticationError,
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    DeviceError,
    RedirectRefusedError,
)
from ._lifecycle import AsyncResource
from ._log import get_logger, scrub
from ._models import CameraConfig

if TYPE_CHECKING:  # pragma: no cover
    from ._driver import _DriverBase

__all__ = ["DEFAULT_MAX_MESSAGE", "DeviceWebSocket"]

log = get_logger("camsdk.websocket")

#: Default cap on one message.
DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024
_USER_AGENT = "camsdk"
_CLOSE_TIMEOUT = 1.0


class _StampedConnection(ClientConnection):
    """A client connection that remembers when the socket last delivered bytes."""

    last_received = 0.0
    bytes_received = 0

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        self.bytes_received += len(data)
        super().data_received(data)


class _NoRedirects(connect):
    """``connect`` that treats every redirect as the refusal it is (host pinning)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class DeviceWebSocket(AsyncResource):
    """An open websocket (see the module docstring). Open it with `connect`.

    ``async for message in ws`` reads until the peer closes normally;
    `recv` reads one message; `send` writes one; `aclose` (or ``async
    with``) closes it, cutting off a peer that does not answer the close.
    """

    def __init__(self, connection: _StampedConnection, *, scheme: str, shown_url: str,
                 action: str, idle_timeout: float | None,
                 on_idle: Callable[[], CamError] | None, send_timeout: float,
                 max_size: int) -> None:
        self._ws = connection
        self._max_size = max_size
        self._scheme = scheme
        self._shown = shown_url
        self.action = action
        self.idle_timeout = idle_timeout
        self._on_idle = on_idle
        self._send_timeout = send_timeout
        self._closed = False
        connection.last_received = time.monotonic()
        #: Pings sent to prove liveness while the socket was quiet.
        self.pings = 0

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        scheme: str,
        shown_url: str,
        allowed_hosts: Iterable[str] = (),
        config: CameraConfig | None = None,
        verify: ssl.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
        subprotocols: Iterable[str] = (),
        max_size: int = DEFAULT_MAX_MESSAGE,
        max_queue: int = 64,
        compression: bool = False,
        idle_timeout: float | None = None,
        on_idle: Callable[[], CamError] | None = None,
        require_tls: bool = False,
        action: str = "websocket",
    ) -> DeviceWebSocket:
        """Open ``url`` (``ws://`` or ``wss://``) under camsdk's rules.

        ``scheme`` and ``shown_url`` (redacted) go into every error;
        ``allowed_hosts`` adds to the URL's own host only if the URL names
        one of them (the URL's host must be allowed: pass the camera's
        host). ``verify`` replaces the system CAs; ``config`` gives the
        deadlines and ``verify_tls``. ``idle_timeout`` (seconds without a
        byte) ends `recv` with ``on_idle()`` or a `CameraTimeoutError`.
        ``require_tls`` refuses ``ws://``.
        """
        cfg = config if config is not None else CameraConfig()
        where: dict[str, Any] = {"scheme": scheme, "url": shown_url}
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            parts, host = None, ""
        if parts is None or parts.scheme not in ("ws", "wss") or not host:
            raise ConfigurationError(f"{action}: not a ws:// or wss:// URL", **where)
        from ._device_http import host_allowed

        allowed = {h.lower() for h in allowed_hosts}
        if not host_allowed(host, allowed):
            raise RedirectRefusedError(
                f"{action}: refused a websocket to another host ({host[:64]}); allow it with "
                "CameraConfig.allow_redirect_hosts", location=scrub(url)[:200], **where)
        if require_tls and parts.scheme != "wss":
            raise RedirectRefusedError(f"{action}: refused to go from TLS to a plain websocket",
                                       location=scrub(url)[:200], **where)
        context: ssl.SSLContext | None = None
        if parts.scheme == "wss":
            if verify is not None:
                context = verify
            elif not cfg.verify_tls:
                context = _unverified()  # the caller's explicit flag; the facade warned
            else:
                from ._http import tls_context

                context = tls_context(True)
        if idle_timeout is not None and idle_timeout <= 0:
            raise ConfigurationError("idle_timeout must be positive", **where)
        connector = _NoRedirects(
            url,
            ssl=context,
            additional_headers=dict(headers or {}),
            user_agent_header=_USER_AGENT,
            subprotocols=[Subprotocol(s) for s in subprotocols] or None,
            proxy=None,
            compression="deflate" if compression else None,
            open_timeout=cfg.connect_timeout,
            ping_interval=None,  # liveness is ours: bytes received, see recv
            close_timeout=_CLOSE_TIMEOUT,
            max_size=max_size,
            max_queue=max_queue,
            create_connection=_StampedConnection,
        )
        try:
            connection = await connector
        except Exception as exc:
            raise _translate(exc, action, where, max_size) from exc
        assert isinstance(connection, _StampedConnection)
        return cls(connection, scheme=scheme, shown_url=shown_url, action=action,
                   idle_timeout=idle_timeout, on_idle=on_idle,
                   send_timeout=cfg.request_timeout, max_size=max_size)

    @classmethod
    async def for_driver(cls, driver: _DriverBase[Any], path: str, *,
                         secure: bool | None = None, **kwargs: Any) -> DeviceWebSocket:
        """A websocket to ``driver``'s device: ``path`` on the camera URL's host and port.

        ``wss`` when ``secure`` (default: the camera URL's scheme ends in
        ``s``, as for `DeviceHttpClient.for_driver`); the driver's hosts,
        config and redacted URL. Other keywords go to `connect`.
        """
        url = driver.url
        tls = secure if secure is not None else url.scheme.endswith("s")
        hosts = set(driver.allowed_hosts()) | set(kwargs.pop("allowed_hosts", ()))
        return await cls.connect(
            f"{'wss' if tls else 'ws'}://{url.netloc_host}{path}",
            scheme=url.scheme, shown_url=url.redacted(), allowed_hosts=hosts,
            config=driver.config, **kwargs,
        )

    # -- reading and writing ---------------------------------------------------------------

    @property
    def idle(self) -> float:
        """Seconds since the socket last delivered a byte."""
        return time.monotonic() - self._ws.last_received

    @property
    def bytes_received(self) -> int:
        """Bytes the socket delivered (frames, pongs and all)."""
        return self._ws.bytes_received

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the peer chose, if any."""
        return self._ws.subprotocol

    def _where(self) -> dict[str, Any]:
        return {"scheme": self._scheme, "url": self._shown}

    async def recv(self) -> bytes | str:
        """The next message; `CameraClosedError` once the peer closed normally.

        With ``idle_timeout``: no byte for that long is ``on_idle()`` (or a
        `CameraTimeoutError`).
        """
        if self._closed:
            raise CameraClosedError(f"{self.action}: the websocket is closed", **self._where())
        window = self.idle_timeout
        if window is None:
            try:
                return await self._ws.recv()
            except Exception as exc:
                raise self._translate(exc) from exc
        tick = max(window / 3, 0.01)
        while True:
            try:
                async with asyncio.timeout(tick):
                    return await self._ws.recv()
            except TimeoutError:
                pass
            except Exception as exc:
                raise self._translate(exc) from exc
            if self.idle >= window:
                if self._on_idle is not None:
                    raise self._on_idle()
                raise CameraTimeoutError(
                    f"{self.action}: no byte for {self.idle:.1f} s (half-open connection?)",
                    **self._where())
            with contextlib.suppress(Exception):
                await self._ws.ping()  # answered by a pong: bytes from a live peer
                self.pings += 1

    def _translate(self, exc: BaseException) -> CamError:
        if isinstance(exc, ConnectionClosedOK):
            return CameraClosedError(
                f"{self.action}: the peer closed the websocket "
                f"(code {exc.rcvd.code if exc.rcvd else 'none'})", **self._where())
        return _translate(exc, self.action, self._where(), self._max_size)

    def __aiter__(self) -> AsyncIterator[bytes | str]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[bytes | str]:
        while True:
            try:
                yield await self.recv()
            except CameraClosedError:
                return

    async def send(self, message: bytes | str) -> None:
        """Send one message (text for `str`), within ``request_timeout``."""
        if self._closed:
            raise CameraClosedError(f"{self.action}: the websocket is closed", **self._where())
        try:
            async with asyncio.timeout(self._send_timeout):
                await self._ws.send(message)
        except TimeoutError:
            raise CameraTimeoutError(
                f"{self.action}: the peer did not take a message within "
                f"{self._send_timeout:g} s", **self._where()) from None
        except Exception as exc:
            raise self._translate(exc) from exc

    # -- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the websocket; a peer that does not answer the close is cut off. Idempotent."""
        if self._closed:
            return
        self._closed = True
        ws = self._ws
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await ws.close()
        ws.transport.abort()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await ws.wait_closed()


    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<DeviceWebSocket {self._shown} {self.action} {state}>"


def _translate(exc: BaseException, action: str, where: dict[str, Any], max_size: int | None
               ) -> CamError:
    """Map a ``websockets``, TLS or socket exception onto the camsdk tree."""
    if isinstance(exc, CamError):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthenticationError(
                f"{action}: the peer refused the credentials (HTTP {status})", **where)
        if 300 <= status < 400:
            return RedirectRefusedError(f"{action}: the peer redirected the websocket; "
                                        "not followed", **where)
        return DeviceError(f"{action}: the peer answered HTTP {status}", code=str(status),
                           **where)
    if isinstance(exc, TimeoutError):
        return CameraTimeoutError(f"{action}: timed out", **where)
    if isinstance(exc, ssl.SSLError):
        return CameraUnreachableError(
            f"{action}: TLS failed ({type(exc).__name__}: {scrub(str(exc))[:120]})", **where)
    if isinstance(exc, PayloadTooBig):
        return CameraProtocolError(f"{action}: a message larger than {max_size} bytes", **where)
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd else "none"
        if 1009 in (getattr(exc.rcvd, "code", None), getattr(exc.sent, "code", None)):
            return CameraProtocolError(f"{action}: a message larger than {max_size} bytes",
                                       **where)
        return CameraUnreachableError(f"{action}: the websocket was closed (code {code})",
                                      **where)
    if isinstance(exc, InvalidURI):
        return ConfigurationError(f"{action}: not a usable websocket URL", **where)
    if isinstance(exc, InvalidHandshake | WebSocketException):
        return CameraProtocolError(f"{action}: websocket handshake failed "
                                   f"({type(exc).__name__})", **where)
    if isinstance(exc, OSError):
        return CameraUnreachableError(f"{action}: connection failed ({type(exc).__name__})",
                                      **where)
    return CameraProtocolError(f"{action}: {type(exc).__name__}", **where)
