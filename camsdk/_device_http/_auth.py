"""Authentication for device HTTP: the device's own challenge, or a token with a refresh hook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Literal

import httpx

from .._digest_auth import DigestSigner, parse_challenges, strongest_digest
from .._log import register_secret

__all__ = ["DeviceAuth", "TokenAuth"]


class DeviceAuth(httpx.Auth):
    """Answers the device's own challenge: Digest when it asks for Digest, else Basic.

    The first request goes out without credentials, so a password is never
    sent in clear to a device that would have taken a Digest. Once the device
    has said which scheme it wants, later requests use it from the start:
    Digest signs each request with the device's last challenge, counting
    ``nc`` up per request on the same nonce. ``scheme`` forces one scheme
    from the first request on.

    A refusal of a freshly signed request is final (the 401 stands and
    becomes an `AuthenticationError`): devices lock accounts after a few
    wrong passwords. Two refusals are not about the password and are
    answered again: ``stale=true`` (the nonce expired, the password was
    right; at most `MAX_STALE` times per request), and a refusal of a
    request signed with a *reused* challenge (devices that rotate nonces
    without saying ``stale``), once, with the fresh challenge.
    """

    #: Stale-nonce answers retried per request; more means a broken device, not a password.
    MAX_STALE = 2

    def __init__(
        self, username: str, password: str, *, scheme: Literal["basic", "digest"] | None = None
    ) -> None:
        self._basic = httpx.BasicAuth(username, password)
        self._digest = DigestSigner(username, password)
        self.scheme: Literal["basic", "digest"] | None = scheme
        #: Stale-nonce refusals answered again so far (none of them a wrong password).
        self.stale_retries = 0

    @property
    def needs_challenge(self) -> bool:
        """Whether the next request goes out unsigned, to learn the device's scheme."""
        return self.scheme is None or (self.scheme == "digest" and self._digest.challenge is None)

    @property
    def nonce_count(self) -> int:
        """Requests signed with the device's current Digest nonce."""
        return self._digest.count

    def _sign(self, request: httpx.Request) -> bool:
        try:
            body: bytes | None = request.content
        except httpx.RequestNotRead:
            body = None  # a streamed body: only auth-int would need it
        value = self._digest.authorization(
            request.method, request.url.raw_path.decode("ascii"), body
        )
        if value is None:
            return False
        request.headers["Authorization"] = value
        return True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Drive one request through the device's challenge (see the class docstring)."""
        if self.scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        # "reused": signed with a challenge held from an earlier exchange.
        signed = reused = self.scheme == "digest" and self._sign(request)
        response = yield request
        stale = 0
        while response.status_code == 401:
            challenges = parse_challenges(response.headers.get_list("www-authenticate"))
            digest = strongest_digest(challenges)
            if digest is not None:
                if signed and digest.stale:
                    stale += 1
                    if stale > self.MAX_STALE:
                        return
                    self.stale_retries += 1
                elif signed and not reused:
                    return  # a fresh signature refused: the password is wrong
                self.scheme = "digest"
                self._digest.adopt(digest)
                if not self._sign(request):
                    return
                signed, reused = True, False
                if response.cookies:
                    httpx.Cookies(response.cookies).set_cookie_header(request)
                response = yield request
                continue
            offers_basic = not challenges or any(c.scheme == "basic" for c in challenges)
            if self.scheme is None and not signed and offers_basic:
                self.scheme = "basic"
                yield from self._basic.auth_flow(request)
            # Any other scheme: the 401 stands and becomes an AuthenticationError.
            return


TokenSource = Callable[[], Awaitable[str]]
#: Seconds a token still lives (``None``: unknown), given the token.
TokenExpiry = Callable[[str], float | None]


class TokenAuth(httpx.Auth):
    """A bearer token (or any header or query token) with a refresh hook.

    ``token`` gives the current token; on a 401 ``refresh`` is awaited once
    (concurrent requests that hit the same expired token share one refresh)
    and the request is retried with the new token. A second 401 stands and
    becomes an `AuthenticationError`. Every token is registered as a secret,
    so logs never show it. Place it in a header (``header``, ``prefix``) or
    in a query parameter (``query="token"``).

    ``expires_in`` is the expiry hook: given the current token it returns
    the seconds it still lives (``None`` when unknown). A token within
    ``refresh_margin`` seconds of its end is refreshed *before* the request
    goes out, so a known expiry never costs a refused request (some devices
    count those). If that early refresh fails while the token still lives,
    the request goes out with it; once expired, the failure is the request's.
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
        expires_in: TokenExpiry | None = None,
        refresh_margin: float = 30.0,
    ) -> None:
        if expires_in is not None and refresh is None:
            raise ValueError("an expiry hook needs a refresh hook to renew the token with")
        if refresh_margin < 0:
            raise ValueError("refresh_margin must be >= 0")
        self._source: TokenSource | None = None if isinstance(token, str) else token
        self._token: str | None = token if isinstance(token, str) else None
        if self._token:
            register_secret(self._token)
        self._refresh = refresh
        self._header = header
        self._prefix = prefix
        self._query = query
        self._expires_in = expires_in
        self._margin = refresh_margin
        self._lock = asyncio.Lock()
        #: Refreshes made before a known expiry (not after a refusal).
        self.early_refreshes = 0

    @property
    def token(self) -> str | None:
        """The token requests carry now (``None`` before the first request)."""
        return self._token

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

    async def _fresh(self, token: str) -> str:
        """``token``, or its successor when the expiry hook says it is about to end."""
        if self._expires_in is None:
            return token
        left = self._expires_in(token)
        if left is None or left > self._margin:
            return token
        try:
            renewed = await self._renew(token)
        except Exception:
            if left > 0:
                return token  # still valid: try it rather than fail a request that may pass
            raise
        if renewed != token:
            self.early_refreshes += 1
        return renewed

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send with the current token (renewed first if it is about to expire); on 401
        refresh once and retry."""
        token = await self._fresh(await self._current())
        self._apply(request, token)
        response = yield request
        if response.status_code == 401 and self._refresh is not None:
            token = await self._renew(token)
            self._apply(request, token)
            yield request
