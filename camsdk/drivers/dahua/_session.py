"""One login per Dahua device per process, shared by its cameras and its hub.

Dahua firmware caps concurrent sessions and locks an account after a few
wrong passwords, so every `DahuaDriver` and `DahuaHub` on the same device
(host, port, user, password) shares one `DahuaSession` through the kit's
`DeviceSessions`: one HTTP client (its Digest state included), one device
read (`DahuaSession.device`, cached for a while), one RPC2 login when needed,
and one event connection whose events are routed to each channel's camera
(`DahuaSession.event_source`). The last user to leave closes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Literal

from camsdk.driver import (
    CameraConfig,
    CameraURL,
    Credentials,
    DeviceHttpClient,
    DeviceSessions,
    register_secret,
)

from ._api import DahuaApi
from ._device import DeviceInfo, load_device
from ._options import DahuaHubOptions
from ._rpc2 import Rpc2Client

__all__ = ["SESSIONS", "DahuaSession", "SessionLease"]

#: Shared sessions of every Dahua device this process talks to.
SESSIONS: DeviceSessions[DahuaSession] = DeviceSessions()
#: Seconds a device read stays good for a camera that connects (a hub refreshes it).
INFO_MAX_AGE = 30.0


class DahuaSession:
    """The shared state of one device login (see the module docstring). No I/O until used."""

    def __init__(
        self,
        *,
        base_url: str,
        shown: str,
        credentials: Credentials | None,
        auth: Literal["auto", "digest", "basic"],
        config: CameraConfig,
        allowed_hosts: frozenset[str],
        options: DahuaHubOptions,
    ) -> None:
        self.shown = shown
        self.config = config
        self.options = options
        self.credentials = credentials
        http = DeviceHttpClient(
            base_url=base_url, scheme="dahua", shown_url=shown, credentials=credentials,
            auth=auth, config=config, allowed_hosts=allowed_hosts,
        )
        #: The CGI API (its `DahuaApi.refused` stops every user after a refused login).
        self.api = DahuaApi(http, shown=shown)
        self._info: DeviceInfo | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()
        self._rpc2: Rpc2Client | None = None
        self._events: Any = None
        self.closed = False

    def __repr__(self) -> str:
        return f"DahuaSession({self.shown!r})"

    @property
    def http(self) -> DeviceHttpClient:
        """The device's HTTP client."""
        return self.api.http

    @property
    def info(self) -> DeviceInfo | None:
        """The last device read, if any."""
        return self._info

    async def device(self, *, max_age: float = INFO_MAX_AGE) -> DeviceInfo:
        """The device's identity and channels, read again when older than ``max_age``."""
        async with self._lock:
            if self._info is None or time.monotonic() - self._read_at > max_age:
                self._info = await load_device(self.api)
                self._read_at = time.monotonic()
            return self._info

    def rpc2(self) -> Rpc2Client:
        """The RPC2 client of this login (it logs in on first use)."""
        if self._rpc2 is None:
            creds = self.credentials
            user = creds.username if creds is not None else ""
            password = creds.password.get_secret_value() if creds is not None else ""
            self._rpc2 = Rpc2Client(self.api, user, password)
        return self._rpc2

    def event_source(self) -> Any:
        """The device's one event connection, shared by its channels (made on first use)."""
        if self._events is None:
            from ._event_source import EventSource  # events are optional; load them when asked

            self._events = EventSource(self)
        return self._events

    async def aclose(self) -> None:
        """Stop the event connection, log out of RPC2, close the HTTP client. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._events is not None:
            await self._events.aclose()
        if self._rpc2 is not None and self.api.refused is None:
            try:
                async with asyncio.timeout(2.0):
                    await self._rpc2.logout()
            except TimeoutError:
                pass
        await self.api.http.aclose()


class SessionLease:
    """A driver's hold on the shared session of its device (acquire / release)."""

    def __init__(
        self,
        url: CameraURL,
        credentials: Credentials | None,
        config: CameraConfig,
        options: DahuaHubOptions,
        allowed_hosts: frozenset[str],
    ) -> None:
        https = options.https
        port = url.port or (443 if https else 80)
        host = url.host
        netloc = f"[{host}]" if ":" in host else host
        self.base_url = f"{'https' if https else 'http'}://{netloc}:{port}"
        self.shown = f"dahua://{netloc}:{port}"
        user = credentials.username if credentials is not None else ""
        secret = credentials.password.get_secret_value() if credentials is not None else ""
        if secret:
            register_secret(secret)
        # The password is part of a login's identity but never kept in the key itself.
        digest = hashlib.blake2b(secret.encode(), digest_size=16).hexdigest()
        self.key = ("dahua", host.lower(), port, https, user, digest, options.auth)
        self._credentials = credentials
        self._config = config
        self._options = options
        self._allowed = allowed_hosts
        self.session: DahuaSession | None = None

    async def acquire(self) -> DahuaSession:
        """The device's shared session (opened if nobody holds it)."""
        if self.session is None:
            self.session = await SESSIONS.acquire(self.key, open=self._open, close=_close)
        return self.session

    async def _open(self) -> DahuaSession:
        return DahuaSession(
            base_url=self.base_url, shown=self.shown, credentials=self._credentials,
            auth=self._options.auth, config=self._config, allowed_hosts=self._allowed,
            options=self._options,
        )

    async def release(self) -> None:
        """Stop using the session; the last user closes it. Idempotent."""
        if self.session is not None:
            self.session = None
            await SESSIONS.release(self.key)


async def _close(session: DahuaSession) -> None:
    await session.aclose()
