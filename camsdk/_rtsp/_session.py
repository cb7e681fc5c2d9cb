"""One RTSP conversation: the connection, requests and answers, auth, redirects.

`RtspSession` sends one request at a time and matches answers by CSeq. It
answers 401 challenges (`DigestAnswerer`), follows redirects only where the
`RedirectPolicy` allows (checked *before* any connection to the target), and
turns statuses into typed errors. Keepalives are fire-and-forget requests
on a loop timer, so a session costs no task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from camsdk._errors import (
    AuthenticationError,
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    DeviceError,
    StreamOpenError,
    UnsupportedCapabilityError,
)
from camsdk._log import get_logger, register_secret
from camsdk._url import redact_url

from ._auth import DigestAnswerer
from ._connection import Connection, open_connection
from ._message import RtspResponse, parse_session, render_request
from ._sdp import SessionDescription, parse_sdp
from ._settings import RtspSettings
from ._urls import Origin, RedirectPolicy

__all__ = ["Redirected", "RtspSession"]

log = get_logger("camsdk.rtsp")
_MAX_ONEWAY = 8


async def _discard(opening: asyncio.Future[Connection]) -> None:
    """Stop a connection attempt and close what it may have opened."""
    if not opening.done():
        opening.cancel()
        await asyncio.wait({opening})
    if not opening.cancelled() and opening.exception() is None:
        opening.result().abort()


class Redirected(Exception):
    """A request was answered with an allowed redirect to ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__("redirected")
        self.url = url


class RtspSession:
    """Requests to one camera over one control connection (replaced on redirects)."""

    def __init__(self, settings: RtspSettings, *, require: str | None = None) -> None:
        self.settings = settings
        if settings.password:
            register_secret(settings.password)
        self.policy = RedirectPolicy(settings.url, settings.allowed_hosts, settings.max_redirects)
        self.url = settings.url
        self.require = require
        self.auth = DigestAnswerer(settings.username, settings.password)
        self.connection: Connection | None = None
        self.session_id: str | None = None
        self.session_timeout = 60.0
        self.public: frozenset[str] | None = None
        self.server = ""
        #: Called when the connection ends while the session is open (not on `close`).
        self.on_closed: Callable[[BaseException | None], None] | None = None
        self._cseq = 0
        self._pending: dict[int, asyncio.Future[RtspResponse]] = {}
        self._oneway: dict[int, str] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        self._closing: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._keepalive: asyncio.TimerHandle | None = None
        self.control_url = settings.url

    # -- errors ------------------------------------------------------------------------

    def annotate(self, exc: CamError) -> CamError:
        """Give an error the camera's scheme and (redacted) URL when it has none."""
        if exc.url is None:
            exc.url = redact_url(self.settings.url)
        if exc.scheme is None:
            exc.scheme = self.settings.scheme
        return exc

    @property
    def closing(self) -> asyncio.Future[None]:
        """Done once the session is closed (to race other waits against)."""
        return self._closing

    @property
    def closed(self) -> bool:
        """Whether `close` or `abort` was called."""
        return self._closed

    # -- connection --------------------------------------------------------------------

    async def connect(self, url: str) -> Connection:
        """The connection for ``url``'s origin: the current one, or a new one."""
        origin = Origin.parse(url)
        if not self.policy.permits(origin):  # pragma: no cover - the policy checked before
            raise CameraProtocolError("refusing to contact a host the caller did not name")
        conn = self.connection
        if conn is not None and not conn.closed and conn.origin.same_place(origin):
            return conn
        if conn is not None:
            self._drop_connection()
            self.auth.reset()  # credentials go to a new host only after it asks
            self.public = None
        if self._closed:
            raise CameraClosedError("the RTSP session was closed")
        path = urlsplit(url).path or "/"
        opening = asyncio.ensure_future(open_connection(
            origin, tls=self.settings.tls, timeout=self.settings.request_timeout, path=path,
            tunnel=self.settings.transport == "http", http_port=self.settings.http_port,
            user_agent=self.settings.user_agent, pinned_sha256=self.settings.pinned_sha256,
        ))
        waits: set[asyncio.Future[Any]] = {opening, self._closing}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            await _discard(opening)  # cancelled: nothing half-open stays behind
            raise
        if not opening.done():  # closed meanwhile
            await _discard(opening)
            raise CameraClosedError("the RTSP session was closed")
        conn = opening.result()
        if self._closed:
            conn.abort()
            raise CameraClosedError("the RTSP session was closed")
        conn.protocol.on_response = self._on_response
        conn.protocol.on_closed = self._on_connection_closed
        self.connection = conn
        return conn

    def _drop_connection(self) -> None:
        conn, self.connection = self.connection, None
        if conn is not None:
            conn.protocol.on_closed = lambda _exc: None
            conn.abort()
        self._fail_pending(CameraUnreachableError("the connection was replaced"))
        self.session_id = None

    def _on_connection_closed(self, exc: BaseException | None) -> None:
        if isinstance(exc, CamError):
            err: CamError = exc
        elif exc is None:
            err = CameraUnreachableError("the camera closed the RTSP connection")
        else:
            err = CameraUnreachableError(f"the RTSP connection failed: {exc}")
        self._fail_pending(err)
        self._stop_keepalive()
        if not self._closed and self.on_closed is not None:
            self.on_closed(exc)

    def _fail_pending(self, err: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(err)
                fut.exception()  # retrieved: nobody may be waiting any more

    def _on_response(self, response: RtspResponse) -> None:
        cseq = response.cseq
        fut = self._pending.pop(cseq, None) if cseq is not None else None
        if fut is None and cseq is None and self._pending:
            fut = self._pending.pop(min(self._pending))  # a camera that forgets CSeq
        if fut is not None:
            if not fut.done():
                fut.set_result(response)
            return
        method = self._oneway.pop(cseq, None) if cseq is not None else None
        if method is not None and response.status == 401:
            # A keepalive met a new (stale) nonce: the next request answers it.
            with contextlib.suppress(AuthenticationError):
                self.auth.accept(response.all("www-authenticate"), sent=False)
        elif method is not None and response.status >= 400:
            log.debug("keepalive %s answered %d", method, response.status)

    # -- requests ----------------------------------------------------------------------

    def _headers(self, method: str, url: str, extra: list[tuple[str, str]]
                 ) -> tuple[list[tuple[str, str]], bool]:
        headers = [("User-Agent", self.settings.user_agent)]
        authorization = self.auth.authorization(method, url)
        if authorization is not None:
            headers.append(("Authorization", authorization))
        if self.session_id is not None and method != "DESCRIBE":
            headers.append(("Session", self.session_id))
        if self.require is not None and method in ("DESCRIBE", "SETUP", "PLAY"):
            headers.append(("Require", self.require))
        headers.extend(extra)
        return headers, authorization is not None

    async def request(self, method: str, url: str, extra: list[tuple[str, str]] | None = None,
                      *, timeout: float | None = None) -> RtspResponse:
        """Send a request and return its answer, after answering auth challenges.

        Raises `AuthenticationError` at once when the credentials are refused,
        `CameraTimeoutError` when no answer comes in time, and the
        connection's error when it ends meanwhile.
        """
        async with self._lock:
            for _ in range(4):
                headers, sent = self._headers(method, url, extra or [])
                response = await self._exchange(method, url, headers, timeout)
                if response.status != 401:
                    self.auth.succeeded()
                    return response
                self.auth.accept(response.all("www-authenticate"), sent=sent)
            raise AuthenticationError("the camera keeps asking for credentials")

    async def _exchange(self, method: str, url: str, headers: list[tuple[str, str]],
                        timeout: float | None) -> RtspResponse:
        conn = self.connection
        if self._closed:
            raise CameraClosedError("the RTSP session was closed")
        if conn is None or conn.closed:
            raise CameraUnreachableError("the RTSP connection is closed")
        self._cseq += 1
        cseq = self._cseq
        data = render_request(method, url, cseq, headers)
        fut: asyncio.Future[RtspResponse] = asyncio.get_running_loop().create_future()
        self._pending[cseq] = fut
        conn.write(data)
        limit = self.settings.request_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await fut
        except TimeoutError:
            raise CameraTimeoutError(f"no answer to {method} within {limit:g} s") from None
        finally:
            self._pending.pop(cseq, None)

    def send_oneway(self, method: str, url: str) -> None:
        """Send a request without waiting for its answer (keepalives)."""
        conn = self.connection
        if conn is None or conn.closed or self._closed:
            return
        headers, _ = self._headers(method, url, [])
        self._cseq += 1
        while len(self._oneway) >= _MAX_ONEWAY:
            self._oneway.pop(next(iter(self._oneway)))
        self._oneway[self._cseq] = method
        try:
            conn.write(render_request(method, url, self._cseq, headers))
        except CameraProtocolError:
            log.debug("keepalive not sent: unusable URL")

    def check(self, response: RtspResponse, method: str) -> None:
        """Raise the typed error for a non-2xx answer, or `Redirected` for an allowed one."""
        status = response.status
        if 200 <= status < 300:
            return
        what = f"{method} answered {status} {response.reason}".strip()
        if 300 <= status < 400:
            location = response.header("location")
            if location is None:
                raise StreamOpenError(f"{what} without a Location")
            target = self.policy.follow(self.url, location)
            raise Redirected(target)
        if status == 401 or status == 403:
            raise AuthenticationError(
                "the camera refused access" if status == 403 else "the camera needs credentials")
        if status == 551 and self.require is not None:
            raise UnsupportedCapabilityError(f"the camera does not support {self.require}")
        if status == 404:
            raise StreamOpenError(f"no stream at {urlsplit(self.url).path or '/'} (RTSP 404)")
        if status >= 500:
            raise DeviceError(what, code=str(status))
        raise StreamOpenError(what)

    # -- the RTSP methods --------------------------------------------------------------

    async def describe(self) -> SessionDescription:
        """OPTIONS and DESCRIBE ``self.url``, following allowed redirects."""
        while True:
            await self.connect(self.url)
            try:
                if self.public is None:
                    options = await self.request("OPTIONS", self.url)
                    if 300 <= options.status < 400:
                        self.check(options, "OPTIONS")
                    public = options.header("public") if options.status == 200 else None
                    self.public = frozenset(
                        m.strip().upper() for m in (public or "").split(",") if m.strip())
                    self.server = (options.header("server") or "")[:256]
                response = await self.request("DESCRIBE", self.url,
                                              [("Accept", "application/sdp")])
                self.check(response, "DESCRIBE")
            except Redirected as redirect:
                self.follow(redirect.url)
                continue
            base = response.header("content-base") or response.header("content-location")
            conn = self.connection
            assert conn is not None
            desc = parse_sdp(response.body, request_url=self.url, content_base=base,
                             origin=conn.origin, server=response.header("server") or self.server)
            self.control_url = desc.control_url
            return desc

    def follow(self, url: str) -> None:
        """Go on at ``url`` (already allowed by the policy): a new session there."""
        log.debug("following a redirect to %s", redact_url(url))
        if self.session_id is not None or not Origin.parse(url).same_place(
                Origin.parse(self.url)):
            self._drop_connection()
            self.public = None
        self.url = url

    async def setup(self, url: str, transport: str) -> RtspResponse:
        """SETUP one track; remembers the session id and timeout."""
        response = await self.request("SETUP", url, [("Transport", transport)])
        if response.status == 200:
            value = response.header("session")
            if value is None:
                raise CameraProtocolError("SETUP answer without a Session")
            sid, timeout = parse_session(value)
            if self.session_id is not None and sid != self.session_id:
                raise CameraProtocolError("the camera changed the session id")
            self.session_id = sid
            if timeout is not None:
                self.session_timeout = timeout
        return response

    async def play(self) -> RtspResponse:
        """PLAY the aggregate control URL from now on."""
        response = await self.request("PLAY", self.control_url, [("Range", "npt=0.000-")])
        self.check(response, "PLAY")
        return response

    def start_keepalive(self) -> None:
        """Send a keepalive every half session timeout (or ``settings.keepalive``)."""
        interval = self.settings.keepalive or max(1.0, self.session_timeout / 2)
        method = "GET_PARAMETER" if self.public and "GET_PARAMETER" in self.public else "OPTIONS"
        loop = asyncio.get_running_loop()

        def tick() -> None:
            self.send_oneway(method, self.control_url)
            self._keepalive = loop.call_later(interval, tick)

        self._stop_keepalive()
        self._keepalive = loop.call_later(interval, tick)

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    # -- ending ------------------------------------------------------------------------

    def abort(self) -> None:
        """End at once: no TEARDOWN, the socket closed, waiting requests failed."""
        self._closed = True
        self._stop_keepalive()
        if not self._closing.done():
            self._closing.set_result(None)
        self._fail_pending(CameraClosedError("the RTSP session was closed"))
        conn, self.connection = self.connection, None
        if conn is not None:
            conn.protocol.on_closed = lambda _exc: None
            conn.abort()

    async def close(self, *, teardown: bool = True, linger: float = 0.5) -> None:
        """TEARDOWN (best effort, within ``linger`` seconds), then close. Idempotent."""
        if self._closed:
            self.abort()
            return
        self._stop_keepalive()
        conn = self.connection
        try:
            if teardown and conn is not None and not conn.closed and self.session_id is not None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + linger
                with contextlib.suppress(CamError, OSError, TimeoutError):
                    async with asyncio.timeout(linger):
                        await self.request("TEARDOWN", self.control_url, timeout=linger)
                self.session_id = None
                if conn is self.connection:
                    self._closed = True
                    conn.protocol.on_closed = lambda _exc: None
                    await conn.close(max(0.0, deadline - loop.time()))
        finally:
            self.abort()
