"""`NestAccount`: one Device Access project and Google account, shared in a process.

The hub and every camera of the account share one `NestAccount` (through
`DeviceSessions`, keyed by project, token store account and endpoints): one
token lineage (`camsdk.cloud.CloudAccount`: claimed, refreshed once for
everybody, saved before use), one HTTP client, one set of quota windows
(`_quota`), one rate limiter holding every request after a 429, one audit
trail of the account's own requests (`camsdk.cloud.CloudAudit`) and one
event feed (`_events`).

Every request goes through `NestAccount.call`: quotas, limiter, the audit
rule (account-level requests recorded one by one, periodic ones
summarised, requests made for a facade action covered by its decision),
the access token (refreshed when about to expire, and once after a 401),
and Google's error shape (``{"error": {"code", "message", "status"}}``)
mapped to typed errors. A dead grant is remembered: every later call
raises it at once, without a request.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import camsdk
from camsdk.cloud import (
    AuditHook,
    CloudAccount,
    CloudAudit,
    Coalescer,
    RateLimiter,
    TokenSet,
    TokenStore,
    retry_after,
    token_store,
)
from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    CameraUnreachableError,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    DeviceSessions,
    RedirectRefusedError,
    get_logger,
    host_allowed,
    redact_text,
    register_secret,
)

from ._events import NestFeed
from ._model import NestDevice, parse_device, parse_structures
from ._oauth import REAUTH_HINT, SCHEME, TokenEndpoint
from ._options import NestOptions
from ._quota import QuotaWindows

__all__ = ["SESSIONS", "NestAccount", "acquire_account", "release_account"]

log = get_logger("camsdk.drivers.nest")

SESSIONS: DeviceSessions[NestAccount] = DeviceSessions()
COMMAND = "sdm.devices.commands."
#: A device list this young is reused (a camera connecting right after the hub).
LIST_FRESH = 10.0
MAX_LIST = 4 * 1024 * 1024
Kind = Literal["account", "action", "periodic"]


def account_key(project: str, options: NestOptions, store: TokenStore) -> Hashable:
    """What identifies one account in a process: project, store account, endpoints, store."""
    name = options.account or project
    where = getattr(store, "directory", None)
    return (project, name, options.sdm_url, options.token_url, options.pubsub_url,
            str(where) if where is not None else id(store))


def google_error(response: DeviceResponse) -> tuple[str, str]:
    """``(status, message)`` of a Google API error answer (empty when it is not one)."""
    try:
        body = response.json()
    except CameraProtocolError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("status", ""))[:64], redact_text(str(error.get("message", ""))[:200])


class NestAccount:
    """One project's tokens, quotas, audit and HTTP (see the module docstring)."""

    def __init__(self, *, project: str, options: NestOptions, config: CameraConfig,
                 hosts: frozenset[str], client: tuple[str, str] | None) -> None:
        self.project = project
        self.options = options
        self.config = config
        self.hosts = hosts
        self.name = options.account or project
        self.shown = f"nest://{project}"
        self.store = token_store(options.token_store)
        self.key = account_key(project, options, self.store)
        self._client = client
        self.limiter = RateLimiter(rate=5.0, burst=10)
        self.cloud = CloudAccount(scheme=SCHEME, account=self.name, store=self.store,
                                  refresh=self._refresh, limiter=self.limiter,
                                  reauth_hint=REAUTH_HINT)
        self.quota = QuotaWindows()
        self.audit = CloudAudit(SCHEME, self.name)
        self.http: DeviceHttpClient | None = None
        self._endpoint: TokenEndpoint | None = None
        self._dead: camsdk.AuthenticationError | None = None
        self._devices: tuple[float, list[NestDevice]] | None = None
        self._structures: dict[str, str] | None = None
        self._coalesce: Coalescer[list[NestDevice]] = Coalescer()
        #: Devices that refused to extend a live stream (battery power).
        self.unextendable: set[str] = set()
        #: The shared event feed, made when a camera first listens.
        self.feed: NestFeed | None = None

    def __repr__(self) -> str:
        return f"<NestAccount {self.shown} account={self.name!r}>"

    # -- opening ---------------------------------------------------------------------------

    async def open(self) -> NestAccount:
        """Claim the token lineage and load the tokens (`ReauthRequiredError` without)."""
        self.http = DeviceHttpClient(
            base_url=self.options.sdm_url, scheme=SCHEME, shown_url=self.shown, auth="none",
            config=self.config, allowed_hosts=self.hosts, max_bytes=MAX_LIST,
            headers={"Accept": "application/json"},
        )
        try:
            await self.cloud.open()
        except BaseException:
            await self.http.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Stop the feed, write pending summaries, close connections, release the lineage."""
        feed, self.feed = self.feed, None
        if feed is not None:
            await feed.aclose()
        self.audit.flush()
        http, self.http = self.http, None
        if http is not None:
            await http.aclose()
        await self.cloud.aclose()

    # -- tokens ----------------------------------------------------------------------------

    def _client_pair(self, tokens: TokenSet) -> tuple[str, str]:
        if self._client is not None:
            return self._client
        client_id = tokens.extra.get("client_id", "")
        secret = tokens.extra.get("client_secret", "")
        if not client_id or not secret:
            raise AuthenticationError(
                "no OAuth client to refresh the tokens with: pass client_id= and "
                "client_secret= (or credentials=), or log in again", scheme=SCHEME,
                url=self.shown)
        register_secret(secret)
        return client_id, secret

    async def _refresh(self, tokens: TokenSet) -> TokenSet:
        """The vendor refresh `CloudAccount` calls (once for every waiting caller)."""
        self.raise_if_dead()
        if tokens.refresh_token is None:
            raise camsdk.ReauthRequiredError(
                "the stored tokens have no refresh token", scheme=SCHEME, url=self.shown,
                reason="no refresh token", action=REAUTH_HINT)
        try:
            client_id, secret = self._client_pair(tokens)
            if self._endpoint is None:
                assert self.http is not None
                self._endpoint = TokenEndpoint(self.http, self.options.token_url, client_id,
                                               secret, shown=self.shown)
            self.audit.request("POST", self.options.token_url, "refresh the access token")
            await self.limiter.acquire("token", max_wait=self.config.request_timeout)
            answer = await self._endpoint.refresh(tokens.refresh_token.get_secret_value())
        except AuthenticationError as exc:
            # A dead grant or a refused client: no request will work until a person acts.
            self._dead = exc
            raise
        from ._oauth import token_set

        return token_set(answer, account=self.name, previous=tokens)

    def raise_if_dead(self) -> None:
        """Raise the `AuthenticationError` of a grant known dead (no request is made)."""
        dead = self._dead
        if dead is None:
            return
        if isinstance(dead, camsdk.ReauthRequiredError):
            raise camsdk.ReauthRequiredError(dead.message, scheme=SCHEME, url=self.shown,
                                             reason=dead.reason, action=dead.action)
        raise type(dead)(dead.message, scheme=SCHEME, url=self.shown)

    # -- requests --------------------------------------------------------------------------

    def check_host(self, url: str, what: str) -> None:
        """Refuse a URL from an answer whose host the driver may not contact."""
        host = (urlsplit(url).hostname or "").lower()
        if not host or not host_allowed(host, self.hosts):
            raise RedirectRefusedError(
                f"{what}: refused a URL on a host this driver may not contact "
                f"({host[:64] or 'none'}); allow it with CameraConfig.allow_redirect_hosts",
                scheme=SCHEME, url=self.shown, location=redact_text(url.split("?", 1)[0])[:200])

    async def call(
        self,
        method: str,
        url: str,
        *,
        why: str,
        kind: Kind,
        quotas: tuple[tuple[str, int], ...] = (),
        json: Any = None,
        max_wait: float | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        headers: dict[str, str] | None = None,
        bearer: bool = True,
    ) -> DeviceResponse:
        """One request of the account (see the module docstring); typed errors."""
        self.raise_if_dead()
        http = self.http
        if http is None:
            raise camsdk.CameraClosedError("the Nest account is closed", scheme=SCHEME,
                                           url=self.shown)
        wait = self.config.request_timeout if max_wait is None else max_wait
        try:
            for name, limit in quotas:
                await self.quota.acquire(name, limit, max_wait=wait)
            await self.limiter.acquire(None, max_wait=wait)
        except camsdk.RateLimitedError as exc:
            exc.scheme, exc.url = SCHEME, self.shown
            raise
        if kind == "account":
            self.audit.request(method, url, why)
        elif kind == "periodic":
            self.audit.periodic(why, method, url)
        token = await self.cloud.access_token() if bearer else ""
        response = await self._send(http, method, url, token, why=why, json=json,
                                    timeout=timeout, max_bytes=max_bytes, headers=headers)
        if response.status == 401 and bearer:
            token = await self.cloud.refresh_after_401(token)
            response = await self._send(http, method, url, token, why=why, json=json,
                                        timeout=timeout, max_bytes=max_bytes, headers=headers)
        if response.status >= 300:
            self._raise_for(response, why)
        return response

    async def _send(self, http: DeviceHttpClient, method: str, url: str, token: str, *,
                    why: str, json: Any, timeout: float | None, max_bytes: int | None,
                    headers: dict[str, str] | None) -> DeviceResponse:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return await http.request(method, url, action=why, json=json, timeout=timeout,
                                  max_bytes=max_bytes, headers=sent, check=False)

    def _raise_for(self, response: DeviceResponse, why: str) -> None:
        status_name, message = google_error(response)
        status = response.status
        detail = f"{status_name or status}: {message}" if message else status_name or str(status)
        if status == 429 or status_name == "RESOURCE_EXHAUSTED":
            wait = retry_after(response.headers, default=60.0)
            self.limiter.penalize(wait)
            raise camsdk.RateLimitedError(
                f"{why}: Google asks to slow down ({detail}); no request of this account "
                f"goes for {wait:.0f} s", scheme=SCHEME, url=self.shown, retry_after=wait)
        if status == 401:
            raise AuthenticationError(f"{why}: Google refused the access token ({detail})",
                                      scheme=SCHEME, url=self.shown)
        if status == 403:
            raise AuthenticationError(
                f"{why}: permission denied ({detail}); share the device with the project in "
                "the Partner Connections Manager, or log in again with every scope",
                scheme=SCHEME, url=self.shown)
        if status >= 500 and status != 504:
            raise CameraUnreachableError(f"{why}: Google answered HTTP {status} ({detail})",
                                         scheme=SCHEME, url=self.shown)
        raise DeviceError(f"{why}: {detail}", scheme=SCHEME, url=self.shown,
                          code=status_name or str(status))

    # -- the SDM API -----------------------------------------------------------------------

    def sdm(self, path: str) -> str:
        """The SDM API URL of ``path`` (relative to ``enterprises/<project>``)."""
        base = f"{self.options.sdm_url}/enterprises/{quote(self.project, safe='')}"
        return f"{base}/{path}" if path else base

    async def devices(self, *, fresh: bool = False) -> list[NestDevice]:
        """Every device of the project (a list younger than a few seconds is reused)."""
        cached = self._devices
        if not fresh and cached is not None and time.monotonic() - cached[0] < LIST_FRESH:
            return cached[1]
        return await self._coalesce.run("devices", self._list_devices)

    async def _list_devices(self) -> list[NestDevice]:
        response = await self.call("GET", self.sdm("devices"), why="list the devices",
                                   kind="account", quotas=(("devices.list",
                                                            self.options.list_qpm),))
        body = response.json()
        records = body.get("devices") if isinstance(body, dict) else None
        devices = [d for d in map(parse_device, records if isinstance(records, list) else [])
                   if d is not None]
        self._devices = (time.monotonic(), devices)
        return devices

    async def device(self, device_id: str) -> NestDevice:
        """One device, read now."""
        response = await self.call(
            "GET", self.sdm(f"devices/{quote(device_id, safe='')}"), why="read the device",
            kind="account", quotas=(("devices.get", self.options.project_qpm),))
        found = parse_device(response.json())
        if found is None:
            raise CameraProtocolError("the SDM API answered no device record", scheme=SCHEME,
                                      url=self.shown)
        return found

    async def structures(self) -> dict[str, str]:
        """Structure id -> name (read once per account session)."""
        if self._structures is None:
            response = await self.call("GET", self.sdm("structures"),
                                       why="list the structures", kind="account",
                                       quotas=(("structures.list", self.options.list_qpm),))
            self._structures = parse_structures(response.json())
        return self._structures

    async def command(self, device_id: str, command: str, params: dict[str, Any], *,
                      why: str, max_wait: float | None = None,
                      timeout: float | None = None) -> dict[str, Any]:
        """``devices.executeCommand`` of ``command`` (short name) on a device: its results."""
        name = command if command.startswith(COMMAND) else COMMAND + command
        response = await self.call(
            "POST", self.sdm(f"devices/{quote(device_id, safe='')}:executeCommand"),
            why=why, kind="action", json={"command": name, "params": params},
            max_wait=max_wait, timeout=timeout,
            quotas=(("devices.executeCommand", self.options.project_qpm),
                    (f"{device_id}:{command}", self.options.command_qpm)))
        body = response.json()
        results = body.get("results", {}) if isinstance(body, dict) else None
        if not isinstance(results, dict):
            raise CameraProtocolError(f"{why}: the answer has no results", scheme=SCHEME,
                                      url=self.shown)
        return results

    # -- holders ---------------------------------------------------------------------------

    def attach(self, holder: Hashable, hook: AuditHook | None) -> None:
        """A hub or camera uses the account (background audit records may go to ``hook``)."""
        self.audit.attach(holder, hook)

    def detach(self, holder: Hashable) -> None:
        """The holder stopped using the account."""
        self.audit.detach(holder)


async def acquire_account(project: str, options: NestOptions, config: CameraConfig,
                          hosts: frozenset[str], client: tuple[str, str] | None) -> NestAccount:
    """The shared account of ``project`` (opened by its first user)."""
    probe = NestAccount(project=project, options=options, config=config, hosts=hosts,
                        client=client)

    async def open_account() -> NestAccount:
        return await probe.open()

    async def close_account(account: NestAccount) -> None:
        await account.aclose()

    return await SESSIONS.acquire(probe.key, open=open_account, close=close_account)


async def release_account(account: NestAccount) -> None:
    """Stop using ``account``; the last user closes it."""
    await SESSIONS.release(account.key)
