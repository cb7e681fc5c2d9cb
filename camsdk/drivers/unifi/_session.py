"""`ConsoleSession`: one login per UniFi OS console per process, shared by hub and cameras.

Opening a session:

1. **Certificate pin** (``tls=pin``, the default): the console's certificate
   is read and its SHA-256 compared with ``fingerprint=`` or the stored pin;
   the first one seen is stored (trust on first use), another one is a
   `CertificateChangedError`. Every connection then trusts exactly it.
2. **Integration API** with ``api_key=`` (``X-API-KEY`` header), checked
   with ``/proxy/protect/integration/v1/meta/info``; otherwise
3. **local user**: the stored session (cookie ``TOKEN`` and CSRF token) is
   tried first, so a restart does not log in again; else ``POST
   /api/auth/login`` through the console's login limiter (one login per
   ``login_spacing`` seconds). A refused password is remembered for the
   process: the same credentials are never sent again (consoles lock the
   account, or ban the address, after a few).

Sessions are shared through `DeviceSessions` keyed by console and identity.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from http.cookies import CookieError, SimpleCookie
from typing import Any

from camsdk import RateLimitedError
from camsdk.cloud import Coalescer, RateLimiter, retry_after
from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    CameraURL,
    Credentials,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    DeviceSessions,
    get_logger,
    pin_certificate,
    register_secret,
)

from ._model import ConsoleInfo, ProtectCamera, parse_bootstrap
from ._options import UnifiOptions
from ._store import SessionStore

__all__ = ["SESSIONS", "ConsoleSession", "acquire_session", "session_key"]

log = get_logger("camsdk.drivers.unifi")

PRIVATE = "/proxy/protect/api"
INTEGRATION = "/proxy/protect/integration/v1"
#: A bootstrap this young is reused by a camera connecting right after the hub.
BOOTSTRAP_FRESH = 10.0
MAX_BOOTSTRAP = 32 * 1024 * 1024

SESSIONS: DeviceSessions[ConsoleSession] = DeviceSessions()
# Credentials a console refused, by digest: never sent again in this process.
_REFUSED: dict[tuple[str, int, str, str], str] = {}
# One login limiter per console (not per session: a refused session is reopened).
_LIMITERS: dict[tuple[str, int], RateLimiter] = {}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def session_key(url: CameraURL, credentials: Credentials | None, options: UnifiOptions) -> tuple[
    str, int, str, str
]:
    """What identifies one login: console host and port, and who logs in (digested)."""
    port = url.port or 443
    if options.api_key:
        return (url.host.lower(), port, "key", _digest(options.api_key))
    if credentials is None:
        return (url.host.lower(), port, "anonymous", "")
    secret = credentials.password.get_secret_value()
    who = _digest(f"{credentials.username}\0{secret}")
    return (url.host.lower(), port, credentials.username, who)


class ConsoleSession:
    """HTTP to one console with its login, pin and cached bootstrap (see the module)."""

    def __init__(self, *, url: CameraURL, credentials: Credentials | None,
                 config: CameraConfig, options: UnifiOptions, hosts: frozenset[str]) -> None:
        self.url = url.without_credentials()
        self.host = url.host
        self.port = url.port or 443
        self.shown = CameraURL("unifi", url.host, url.port, "").redacted()
        self.credentials = credentials
        self.config = config
        self.options = options
        self.mode = "integration" if options.api_key else "private"
        self.key = session_key(url, credentials, options)
        self._hosts = hosts
        user = "apikey" if options.api_key else (credentials.username if credentials else "")
        self.store = SessionStore(self.host, self.port, user, store=options.token_store,
                                  directory=options.session_dir)
        self.ssl_context: ssl.SSLContext | None = None
        self.fingerprint: str | None = None
        self.http: DeviceHttpClient | None = None
        self._token = ""
        self._csrf = ""
        self._relogin = asyncio.Lock()
        self._bootstrap: tuple[float, ConsoleInfo, list[ProtectCamera]] | None = None
        self._coalesce: Coalescer[tuple[ConsoleInfo, list[ProtectCamera]]] = Coalescer()
        #: Logins this session made (tests and benchmarks count them).
        self.logins = 0
        self.events: Any = None  # the shared event fan-out (`_events.ConsoleEvents`), lazily

    def __repr__(self) -> str:
        return f"<ConsoleSession {self.shown} {self.mode}>"

    # -- opening ---------------------------------------------------------------------------

    @property
    def netloc(self) -> str:
        """``host:port`` of the console (IPv6 bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def open(self) -> ConsoleSession:
        """Pin the certificate, then check the API key or log in (module docstring)."""
        self.check_refused()
        if self.options.api_key:
            register_secret(self.options.api_key)
        elif self.credentials is None:
            raise AuthenticationError(
                "a UniFi console needs a local user's credentials or api_key=",
                scheme="unifi", url=self.shown)
        await self._pin()
        headers = {"Accept": "application/json"}
        if self.options.api_key:
            headers["X-API-KEY"] = self.options.api_key
        self.http = DeviceHttpClient(
            base_url=f"https://{self.netloc}", scheme="unifi", shown_url=self.shown,
            auth="none", config=self.config, allowed_hosts=self._hosts, headers=headers,
            verify=self.ssl_context,
        )
        try:
            if self.mode == "integration":
                await self.request("GET", f"{INTEGRATION}/meta/info", action="API key check")
            else:
                await self._resume_or_login()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _pin(self) -> None:
        if self.options.tls != "pin" or not self.config.verify_tls:
            return  # system CAs, or verification off by the caller's explicit flag
        self.fingerprint, self.ssl_context = await pin_certificate(
            self.host, self.port, fingerprint=self.options.fingerprint,
            load=self.store.load_pin, save=self.store.save_pin,
            timeout=self.config.connect_timeout, scheme="unifi", url=self.shown,
            device="console", renewed="if it was replaced on purpose",
        )

    async def _resume_or_login(self) -> None:
        assert self.credentials is not None
        stored = await self.store.load_session(self.credentials.password.get_secret_value())
        if stored is not None:
            self._token, self._csrf = stored
            register_secret(self._token)
            response = await self._send("GET", f"{PRIVATE}/bootstrap", action="bootstrap",
                                        max_bytes=MAX_BOOTSTRAP)
            if response.status < 300:
                self._keep_bootstrap(response)
                return
            if response.status not in (401, 403):
                self._raise_for(response)
            await self.store.forget_session()
        await self._login()

    def check_refused(self) -> None:
        """Raise the `AuthenticationError` of credentials the console already refused."""
        refused = _REFUSED.get(self.key)
        if refused is not None:
            raise AuthenticationError(
                f"{refused}; not retried (the console locks out repeated wrong passwords)",
                scheme="unifi", url=self.shown)

    async def relogin(self, stale_token: str) -> None:
        """The console refused ``stale_token``: log in again once (shared by concurrent callers)."""
        async with self._relogin:
            self.check_refused()
            if self._token == stale_token:  # nobody logged in again meanwhile
                await self.store.forget_session()
                await self._login()

    @property
    def token(self) -> str:
        """The current session cookie (to tell whether it changed)."""
        return self._token

    async def _login(self) -> None:
        assert self.http is not None and self.credentials is not None
        self.check_refused()
        limiter = _LIMITERS.setdefault(
            (self.host.lower(), self.port),
            RateLimiter(rate=1.0, burst=1, spacing={"login": self.options.login_spacing}),
        )
        limiter.spacing["login"] = self.options.login_spacing
        try:
            await limiter.acquire("login", max_wait=self.config.connect_timeout)
        except RateLimitedError as exc:
            exc.scheme, exc.url = "unifi", self.shown  # the limiter knows no camera
            raise
        password = self.credentials.password.get_secret_value()
        register_secret(password)
        response = await self.http.post(
            "/api/auth/login", action="login", check=False,
            json={"username": self.credentials.username, "password": password,
                  "token": "", "rememberMe": True},
        )
        if response.status in (401, 403):
            message = f"the console refused the credentials (HTTP {response.status})"
            _REFUSED[self.key] = message
            raise AuthenticationError(message, scheme="unifi", url=self.shown)
        if response.status == 429:
            wait = retry_after(response.headers, default=300.0)
            limiter.penalize(wait)
            self._raise_for(response)
        if response.status >= 300:
            self._raise_for(response)
        token = _cookie(response.headers.get_list("set-cookie"), "TOKEN")
        if not token:
            raise CameraProtocolError("the console's login set no session cookie",
                                      scheme="unifi", url=self.shown)
        register_secret(token)
        self._token = token
        self._csrf = response.headers.get("x-csrf-token", "") or self._csrf
        if self._csrf:
            register_secret(self._csrf)
        self.logins += 1
        await self.store.save_session(self._token, self._csrf, password)

    async def aclose(self) -> None:
        """Stop the event fan-out and close the connections. Idempotent."""
        events, self.events = self.events, None
        if events is not None:
            await events.aclose()
        http, self.http = self.http, None
        if http is not None:
            await http.aclose()

    # -- requests --------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request (or a websocket) as this session."""
        if self.options.api_key:
            return {"X-API-KEY": self.options.api_key}
        headers = {"Cookie": f"TOKEN={self._token}"}
        if self._csrf:
            headers["X-CSRF-Token"] = self._csrf
        return headers

    async def _send(self, method: str, path: str, *, action: str, **kwargs: Any) -> DeviceResponse:
        if self.http is None:
            from camsdk.driver import CameraClosedError

            raise CameraClosedError("console session is closed", scheme="unifi", url=self.shown)
        headers = {**self.auth_headers(), **kwargs.pop("headers", {})}
        response = await self.http.request(method, path, action=action, check=False,
                                           headers=headers, **kwargs)
        updated = response.headers.get("x-updated-csrf-token")
        if updated and self.mode == "private":
            register_secret(updated)
            self._csrf = updated
        return response

    async def request(self, method: str, path: str, *, action: str, **kwargs: Any
                      ) -> DeviceResponse:
        """One request as this session; a lapsed local session logs in again once."""
        token = self._token
        response = await self._send(method, path, action=action, **kwargs)
        if response.status == 401 and self.mode == "private" and self.credentials is not None:
            await self.relogin(token)
            response = await self._send(method, path, action=action, **kwargs)
        if response.status >= 300:
            self._raise_for(response)
        return response

    def _raise_for(self, response: DeviceResponse) -> None:
        status = response.status
        what = response.action or "request"
        if status in (401, 403):
            raise AuthenticationError(f"{what}: the console refused the session (HTTP {status})",
                                      scheme="unifi", url=self.shown)
        if status == 429:
            wait = retry_after(response.headers, default=60.0)
            raise RateLimitedError(f"{what}: the console asks to wait {wait:.0f} s (HTTP 429)",
                                   scheme="unifi", url=self.shown, retry_after=wait)
        raise DeviceError(f"{what}: the console answered HTTP {status}", scheme="unifi",
                          url=self.shown, code=str(status))

    # -- bootstrap -------------------------------------------------------------------------

    def _keep_bootstrap(self, response: DeviceResponse) -> tuple[ConsoleInfo, list[ProtectCamera]]:
        console, cameras = parse_bootstrap(response.json())
        self._bootstrap = (time.monotonic(), console, cameras)
        return console, cameras

    async def bootstrap(self, *, fresh: bool = False) -> tuple[ConsoleInfo, list[ProtectCamera]]:
        """The console and its cameras (a bootstrap younger than a few seconds is reused)."""
        cached = self._bootstrap
        if not fresh and cached is not None and time.monotonic() - cached[0] < BOOTSTRAP_FRESH:
            return cached[1], cached[2]
        return await self._coalesce.run(("bootstrap", fresh), self._fetch_bootstrap)

    async def _fetch_bootstrap(self) -> tuple[ConsoleInfo, list[ProtectCamera]]:
        if self.mode == "private":
            response = await self.request("GET", f"{PRIVATE}/bootstrap", action="bootstrap",
                                          max_bytes=MAX_BOOTSTRAP)
            return self._keep_bootstrap(response)
        from ._integration import integration_bootstrap

        console, cameras = await integration_bootstrap(self)
        self._bootstrap = (time.monotonic(), console, cameras)
        return console, cameras


def _cookie(headers: list[str], name: str) -> str:
    for header in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return ""


async def acquire_session(url: CameraURL, credentials: Credentials | None, config: CameraConfig,
                          options: UnifiOptions, hosts: frozenset[str]) -> ConsoleSession:
    """The shared session of this console and identity (opened by the first user)."""
    key = session_key(url, credentials, options)

    async def open_session() -> ConsoleSession:
        session = ConsoleSession(url=url, credentials=credentials, config=config,
                                 options=options, hosts=hosts)
        return await session.open()

    async def close_session(session: ConsoleSession) -> None:
        await session.aclose()

    return await SESSIONS.acquire(key, open=open_session, close=close_session)

