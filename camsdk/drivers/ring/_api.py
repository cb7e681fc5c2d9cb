"""`RingApi`: Ring's client API on `DeviceHttpClient`, as one account.

Every request:

- waits its turn at the account's `RateLimiter` (``kind`` spaces commands
  such as a device's snapshots);
- carries ``Authorization: Bearer <access token>`` from the shared
  `CloudAccount` (refreshed once for everybody when it is about to expire),
  the install's ``hardware_id`` and ``api_version=11`` on ``/clients_api``;
- on 401 refreshes once (shared with concurrent callers) and tries again;
  a grant that is dead (the refresh refused, or a 401 with a fresh token)
  is remembered: later requests of the account raise the same error at once,
  without asking Ring again (a reconnect loop must not keep trying);
- maps answers to typed errors: 401/403 `AuthenticationError` (or
  `ReauthRequiredError` when the refresh token is dead), 429 a
  `RateLimitedError` that also holds back every other request of the
  account for ``Retry-After`` seconds, other failures `DeviceError` with the
  status as ``code``.

Requests go to the configured endpoints only (`RingOptions.hosts`) and to
the declared recording storage hosts; `DeviceHttpClient` refuses any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from camsdk import RateLimitedError, ReauthRequiredError
from camsdk.cloud import CloudAccount, retry_after
from camsdk.driver import (
    AuthenticationError,
    BodyReader,
    CameraConfig,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
)

from ._auth import USER_AGENT, hardware_id_of
from ._options import RingOptions

__all__ = ["API_VERSION", "RingApi"]

API_VERSION = "11"
_MAX_JSON = 8 * 1024 * 1024


def _extra(error: AuthenticationError) -> dict[str, Any]:
    if isinstance(error, ReauthRequiredError):
        return {"reason": error.reason, "action": error.action}
    return {}


class RingApi:
    """HTTP to Ring as one account (see the module docstring). No I/O until used."""

    def __init__(self, account: CloudAccount, options: RingOptions, config: CameraConfig, *,
                 shown: str, extra_hosts: Iterable[str] = ()) -> None:
        self.account = account
        self.options = options
        self.config = config
        self.shown = shown
        self.http = DeviceHttpClient(
            base_url=options.api_url, scheme="ring", shown_url=shown, auth="none", config=config,
            allowed_hosts=options.hosts() | frozenset(extra_hosts),
            headers={"User-Agent": USER_AGENT},
        )
        #: Requests sent (tests and benchmarks read it).
        self.requests = 0
        #: The authentication failure that ended the account's grant, once there is one.
        self.refused: AuthenticationError | None = None

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    def url(self, base: str, path: str) -> str:
        """``path`` on one of the endpoints (``api``, ``app``, ``snapshot``)."""
        root = {"api": self.options.api_url, "app": self.options.app_url,
                "snapshot": self.options.snapshot_url}[base]
        return f"{root}{path}"

    def _headers(self, token: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}",
                   "hardware_id": hardware_id_of(self.account.tokens) or ""}
        headers.update(extra or {})
        return headers

    async def _turn(self, kind: str | None, max_wait: float | None) -> None:
        try:
            await self.account.limiter.acquire(
                kind, max_wait=self.config.request_timeout if max_wait is None else max_wait)
        except RateLimitedError as exc:
            exc.scheme, exc.url = "ring", self.shown
            raise

    def _params(self, url: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        merged = dict(params or {})
        if "/clients_api/" in url:
            merged.setdefault("api_version", API_VERSION)
        return merged

    async def request(
        self,
        method: str,
        url: str,
        *,
        action: str,
        kind: str | None = None,
        max_wait: float | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = _MAX_JSON,
        timeout: float | None = None,
        allow: Iterable[int] = (),
    ) -> DeviceResponse:
        """One request as the account (module docstring); statuses in ``allow`` are returned."""
        self._check_refused()
        await self._turn(kind, max_wait)
        token = await self._token()
        query = self._params(url, params)
        response = await self._send(method, url, action, token, query, json, headers, max_bytes,
                                    timeout)
        if response.status == 401:
            token = await self._token(rejected=token)
            response = await self._send(method, url, action, token, query, json, headers,
                                        max_bytes, timeout)
        if response.status in set(allow):
            return response
        try:
            self.raise_for(response)
        except AuthenticationError as exc:
            if response.status == 401:
                self.refused = exc  # refused with a fresh token too: the grant is dead
            raise
        return response

    def _check_refused(self) -> None:
        """Raise the authentication failure the account already had (no request, no retry)."""
        refused = self.refused
        if refused is not None:
            raise type(refused)(refused.message, scheme="ring", url=self.shown,
                                **_extra(refused))

    async def _token(self, *, rejected: str | None = None) -> str:
        try:
            if rejected is not None:
                return await self.account.refresh_after_401(rejected)
            return await self.account.access_token()
        except ReauthRequiredError as exc:
            # Remembered: Ring locks accounts that keep presenting dead grants.
            self.refused = exc
            raise

    async def _send(self, method: str, url: str, action: str, token: str, query: dict[str, Any],
                    json: Any, headers: Mapping[str, str] | None, max_bytes: int,
                    timeout: float | None) -> DeviceResponse:
        self.requests += 1
        return await self.http.request(
            method, url, action=action, params=query or None, json=json,
            headers=self._headers(token, headers), max_bytes=max_bytes, timeout=timeout,
            check=False,
        )

    def raise_for(self, response: DeviceResponse) -> None:
        """Raise the typed error of a failed answer (2xx and 3xx pass)."""
        status, what = response.status, response.action or "request"
        if status < 400:
            return
        if status in (401, 403):
            raise AuthenticationError(f"{what}: Ring refused the session (HTTP {status})",
                                      scheme="ring", url=self.shown)
        if status == 429:
            wait = retry_after(response.headers, default=60.0)
            self.account.limiter.penalize(wait)
            raise RateLimitedError(f"{what}: Ring asks to wait {wait:.0f} s (HTTP 429)",
                                   scheme="ring", url=self.shown, retry_after=wait)
        raise DeviceError(f"{what}: Ring answered HTTP {status}", scheme="ring", url=self.shown,
                          code=str(status))

    async def get_json(self, url: str, *, action: str, **kwargs: Any) -> Any:
        """``GET`` and the answer as JSON."""
        return (await self.request("GET", url, action=action, **kwargs)).json()

    async def open(self, url: str, *, action: str, idle_timeout: float,
                   params: Mapping[str, Any] | None = None, authorized: bool = True
                   ) -> BodyReader:
        """A long body (a recording) as a `BodyReader`; the caller closes it.

        ``authorized=False`` for pre-signed storage URLs: no token goes to them.
        """
        self._check_refused()
        await self._turn(None, None)
        headers = {"User-Agent": USER_AGENT}
        if authorized:
            headers.update(self._headers(await self._token(), None))
        self.requests += 1
        return await self.http.open("GET", url, action=action, idle_timeout=idle_timeout,
                                    params=dict(params) if params else None, headers=headers,
                                    check=True, auth=False)
