"""Authentication for device HTTP: the device's own challenge, or a token with a refresh hook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Literal

import httpx

from .._log import register_secret

__all__ = ["DeviceAuth", "TokenAuth"]


class DeviceAuth(httpx.Auth):
    """Answers the device's own challenge: Digest when it asks for Digest, else Basic.

    The first request goes out without credentials, so a password is never
    sent in clear to a device that would have taken a Digest. Once the device
    has said which scheme it wants, later requests use it from the start
    (Digest reuses the last challenge, as `httpx.DigestAuth` does).
    ``scheme`` forces one scheme from the first request on.
    """

    def __init__(
        self, username: str, password: str, *, scheme: Literal["basic", "digest"] | None = None
    ) -> None:
        self._basic = httpx.BasicAuth(username, password)
        self._digest = httpx.DigestAuth(username, password)
        self.scheme: Literal["basic", "digest"] | None = scheme

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Drive one request through the device's challenge (see the class docstring)."""
        if self.scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        if self.scheme == "digest":
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        challenges = [c.strip().lower() for c in response.headers.get_list("www-authenticate")]
        if any(c.startswith("digest") for c in challenges):
            self.scheme = "digest"
            # Hand DigestAuth the challenge we already hold instead of asking again.
            flow = self._digest.auth_flow(request)
            next(flow)
            try:
                retry = flow.send(response)
            except StopIteration:
                return
            answer = yield retry
            try:
                flow.send(answer)
            except StopIteration:
                pass
        elif not challenges or any(c.startswith("basic") for c in challenges):
            self.scheme = "basic"
            yield from self._basic.auth_flow(request)
        # Any other scheme: the 401 stands and becomes an AuthenticationError.


TokenSource = Callable[[], Awaitable[str]]


class TokenAuth(httpx.Auth):
    """A bearer token (or any header or query token) with a refresh hook.

    ``token`` gives the current token; on a 401 ``refresh`` is awaited once
    (concurrent requests that hit the same expired token share one refresh)
    and the request is retried with the new token. A second 401 stands and
    becomes an `AuthenticationError`. Every token is registered as a secret,
    so logs never show it. Place it in a header (``header``, ``prefix``) or
    in a query parameter (``query="token"``).
    """

    requires_response_body = False

    def __init__(
        self,
        token: str | TokenSource,
        *,
        refresh: TokenSource | None = None,
        header: str = "Authorization",
        prefix: str = "Bearer ",
        query: str | None = None,
    ) -> None:
        self._source: TokenSource | None = None if isinstance(token, str) else token
        self._token: str | None = token if isinstance(token, str) else None
        if self._token:
            register_secret(self._token)
        self._refresh = refresh
        self._header = header
        self._prefix = prefix
        self._query = query
        self._lock = asyncio.Lock()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Tokens are async-only."""
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")

    async def _current(self) -> str:
        if self._token is None and self._source is not None:
            self._token = await self._source()
            register_secret(self._token)
        return self._token or ""

    def _apply(self, request: httpx.Request, token: str) -> None:
        if self._query is not None:
            request.url = request.url.copy_set_param(self._query, token)
        else:
            request.headers[self._header] = f"{self._prefix}{token}"

    async def _renew(self, stale: str) -> str:
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token  # someone else refreshed while we waited
            assert self._refresh is not None
            token = await self._refresh()
            register_secret(token)
            self._token = token
            return token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send with the current token; on 401 refresh once and retry."""
        token = await self._current()
        self._apply(request, token)
        response = yield request
        if response.status_code == 401 and self._refresh is not None:
            token = await self._renew(token)
            self._apply(request, token)
            yield request
