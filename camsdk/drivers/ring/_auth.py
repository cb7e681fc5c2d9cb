"""Logging in to Ring: the OAuth password grant, its 2FA challenge, and refreshes.

Ring's OAuth server (``POST /oauth/token``, client ``ring_official_android``,
scope ``client``) answers a password grant sent with ``2fa-support: true``:

- **412** with ``tsv_state`` (``sms``, ``email`` or ``totp``), the masked
  ``phone`` and ``next_time_in_secs``: a code was sent (or must be read from
  an authenticator app). The same grant is sent again with ``2fa-code``;
  `RingAuthenticator` turns this into a `camsdk.cloud.Challenge`;
- **400** "Verification Code is invalid or expired": a wrong code (the
  challenge stays open for another try);
- **401**: wrong email or password (`AuthenticationError` at once, never
  retried: Ring locks accounts that keep trying);
- **429** with ``Retry-After``: too many attempts (`RateLimitedError`);
- **200**: ``access_token``, ``refresh_token``, ``expires_in``.

Every grant carries the install's ``hardware_id`` (a UUID made once per
install and kept with the tokens, in `TokenSet.extra`): Ring binds a refresh
token to the hardware id it was issued to. Refresh tokens rotate on every
use; `camsdk.cloud.CloudAccount` saves the new one before the new access
token is used. Asking for a code is rate-limited per account
(``code_spacing``): each one is an SMS or an e-mail to a person.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from camsdk import RateLimitedError, ReauthRequiredError
from camsdk.cloud import Challenge, RateLimiter, TokenSet, TokenStore, retry_after
from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    ConfigurationError,
    Credentials,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    register_secret,
)

from ._options import RingOptions

__all__ = [
    "CLIENT_ID",
    "USER_AGENT",
    "RingAuthenticator",
    "client_name",
    "hardware_id_of",
    "refresh_tokens",
]

CLIENT_ID = "ring_official_android"
#: Ring's API expects its Android app's user agent (as every peer client sends).
USER_AGENT = "android:com.ringapp"
_SCOPE = "client"
_TOKEN_PATH = "/oauth/token"
_MAX_ANSWER = 64 * 1024
_KINDS = {"sms": "sms", "email": "email", "totp": "totp"}
# One code limiter per account and OAuth server, for the whole process.
_CODE_LIMITERS: dict[tuple[str, str], RateLimiter] = {}


def hardware_id_of(tokens: TokenSet | None) -> str | None:
    """The install's hardware id kept with ``tokens``, if any."""
    if tokens is None:
        return None
    value = tokens.extra.get("hardware_id", "")
    return value or None


def client_name(options: RingOptions, hardware_id: str) -> str:
    """The name Ring shows for this install: the option, or ``camsdk-<hardware id prefix>``."""
    return options.client_name or f"camsdk-{hardware_id.replace('-', '')[:8]}"


def _oauth_client(options: RingOptions, config: CameraConfig, shown: str) -> DeviceHttpClient:
    return DeviceHttpClient(
        base_url=options.oauth_url, scheme="ring", shown_url=shown, auth="none", config=config,
        allowed_hosts=options.hosts(), headers={"User-Agent": USER_AGENT},
    )


def _tokens_from(answer: DeviceResponse, *, shown: str) -> tuple[str, str | None, datetime | None]:
    data = answer.json()
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise CameraProtocolError("Ring's token answer has no access token", scheme="ring",
                                  url=shown)
    access = data["access_token"]
    refresh = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None
    register_secret(access)
    if refresh:
        register_secret(refresh)
    expires = data.get("expires_in")
    expires_at = None
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
        expires_at = datetime.now(UTC) + timedelta(seconds=min(float(expires), 10 * 365 * 86400))
    return access, refresh, expires_at


def _error_text(answer: DeviceResponse) -> str:
    try:
        data = answer.json()
    except CameraProtocolError:
        return ""
    if isinstance(data, dict):
        for key in ("error_description", "error", "message"):
            value = data.get(key)
            if isinstance(value, str):
                return value[:200]
    return ""


async def refresh_tokens(
    tokens: TokenSet, *, options: RingOptions, config: CameraConfig, shown: str
) -> TokenSet:
    """The next tokens of ``tokens``' lineage (a refresh grant); `ReauthRequiredError` if dead."""
    refresh = tokens.refresh_token.get_secret_value() if tokens.refresh_token else ""
    if not refresh:
        raise ReauthRequiredError("no refresh token is stored", scheme="ring", url=shown,
                                  reason="no refresh token", action="camsdk login ring")
    hardware = hardware_id_of(tokens) or ""
    async with _oauth_client(options, config, shown) as http:
        answer = await http.post(
            _TOKEN_PATH, action="token refresh", check=False, max_bytes=_MAX_ANSWER,
            headers={"hardware_id": hardware, "2fa-support": "true"},
            json={"client_id": CLIENT_ID, "scope": _SCOPE, "grant_type": "refresh_token",
                  "refresh_token": refresh},
        )
    if answer.status == 429:
        wait = retry_after(answer.headers, default=60.0)
        raise RateLimitedError(f"Ring asks to wait {wait:.0f} s before refreshing",
                               scheme="ring", url=shown, retry_after=wait)
    if answer.status in (400, 401, 403):
        why = _error_text(answer) or f"HTTP {answer.status}"
        raise ReauthRequiredError(
            f"Ring refused the refresh token ({why})", scheme="ring", url=shown,
            reason="the refresh token was revoked, expired or already used (Ring rotates it "
            "on every use)", action="camsdk login ring",
        )
    if answer.status >= 300:
        raise DeviceError(f"token refresh: Ring answered HTTP {answer.status}", scheme="ring",
                          url=shown, code=str(answer.status))
    access, new_refresh, expires_at = _tokens_from(answer, shown=shown)
    return tokens.rotated(
        access_token=SecretStr(access),
        refresh_token=SecretStr(new_refresh) if new_refresh else tokens.refresh_token,
        expires_at=expires_at,
    )


class RingAuthenticator:
    """Ring's login steps for `camsdk.cloud.login` (see the module docstring).

    ``hardware_id`` is the install's id; without it the one stored with the
    account's tokens in ``token_store`` (or ``token_dir``) is reused, else a
    new one is made. ``options`` are `RingOptions` fields (endpoints,
    ``client_name``, ``code_spacing``).
    """

    def __init__(
        self,
        *,
        account: str,
        credentials: Credentials | None,
        hardware_id: str | None = None,
        config: CameraConfig | None = None,
        **options: Any,
    ) -> None:
        if credentials is None or not credentials.username:
            raise ConfigurationError("a Ring login needs the account's e-mail and password",
                                     scheme="ring")
        try:
            self.options = RingOptions.model_validate(options)
        except ValueError as exc:
            raise ConfigurationError(f"invalid Ring login option: {exc}", scheme="ring") from None
        self.account = account
        self._credentials = credentials
        register_secret(credentials.password.get_secret_value())
        self._hardware_id = hardware_id
        self._config = config or CameraConfig()
        self._shown = f"ring://{account}"
        self._http: DeviceHttpClient | None = None
        self._waiting: Challenge | None = None

    def __repr__(self) -> str:
        return f"<RingAuthenticator {self._shown}>"

    def _store(self) -> TokenStore | None:
        if self.options.token_store is not None:
            store: TokenStore = self.options.token_store
            return store
        if self.options.token_dir is not None:
            from camsdk.cloud import FileTokenStore

            return FileTokenStore(self.options.token_dir)
        return None

    async def _hardware(self) -> str:
        if self._hardware_id is None:
            store = self._store()
            stored = await store.load("ring", self.account) if store is not None else None
            self._hardware_id = hardware_id_of(stored) or str(uuid.uuid4())
        return self._hardware_id

    def _limiter(self) -> RateLimiter:
        who = hashlib.sha256(self._credentials.username.lower().encode()).hexdigest()[:16]
        key = (self.options.oauth_url, who)
        limiter = _CODE_LIMITERS.get(key)
        if limiter is None:
            # Only the spacing counts: the bucket itself never holds a login back.
            limiter = _CODE_LIMITERS[key] = RateLimiter(rate=1000.0, burst=1000)
        limiter.spacing["code"] = self.options.code_spacing
        return limiter

    async def _grant(self, code: str | None) -> DeviceResponse:
        if self._http is None:
            self._http = _oauth_client(self.options, self._config, self._shown)
        headers = {"hardware_id": await self._hardware(), "2fa-support": "true"}
        if code is not None:
            headers["2fa-code"] = code
        return await self._http.post(
            _TOKEN_PATH, action="login", check=False, max_bytes=_MAX_ANSWER, headers=headers,
            json={"client_id": CLIENT_ID, "scope": _SCOPE, "grant_type": "password",
                  "username": self._credentials.username,
                  "password": self._credentials.password.get_secret_value()},
        )

    async def begin(self) -> TokenSet | Challenge:
        """Send the password grant: tokens, or the 2FA challenge (a code is sent by Ring)."""
        limiter = self._limiter()
        wait = limiter.delay("code")
        if wait > 0:
            # Asking again so soon would send the person another SMS or e-mail.
            raise RateLimitedError(
                f"a Ring verification code was sent moments ago; ask again in {wait:.0f} s",
                scheme="ring", url=self._shown, retry_after=wait)
        return await self._settle(await self._grant(None), limiter)

    async def answer(self, code: str) -> TokenSet | Challenge:
        """Send the grant again with the code: tokens, or the challenge again if it was wrong."""
        if self._waiting is None:
            raise ConfigurationError("no Ring challenge waits for a code", scheme="ring")
        return await self._settle(await self._grant(code.strip()), self._limiter())

    async def _settle(self, answer: DeviceResponse, limiter: RateLimiter) -> TokenSet | Challenge:
        status = answer.status
        if status == 412:
            if self._waiting is None:
                await limiter.acquire("code", max_wait=0.0)  # a code went out: space the next
            data = answer.json()
            if not isinstance(data, dict):
                data = {}
            state = str(data.get("tsv_state", "")).lower()
            wait = data.get("next_time_in_secs")
            if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0:
                limiter.penalize(min(float(wait), 3600.0))  # Ring's own spacing of codes
            destination = str(data.get("phone", ""))[:64]
            kind = _KINDS.get(state, "other")
            message = {
                "sms": "Ring sent a code by SMS", "email": "Ring sent a code by e-mail",
                "totp": "enter the code of your authenticator app",
            }.get(kind, f"Ring asks for a verification code ({state or 'unknown'})")
            self._waiting = Challenge(kind=kind, destination=destination, message=message)
            return self._waiting
        if status == 400 and self._waiting is not None:
            raise AuthenticationError(
                f"Ring refused the verification code ({_error_text(answer) or 'HTTP 400'}); "
                "try again with the right one", scheme="ring", url=self._shown)
        if status in (400, 401, 403):
            raise AuthenticationError(
                f"Ring refused the e-mail or password ({_error_text(answer) or f'HTTP {status}'});"
                " not retried", scheme="ring", url=self._shown)
        if status == 429:
            wait = retry_after(answer.headers, default=300.0)
            limiter.penalize(wait)
            raise RateLimitedError(f"Ring asks to wait {wait:.0f} s before logging in again",
                                   scheme="ring", url=self._shown, retry_after=wait)
        if status >= 300:
            raise DeviceError(f"login: Ring answered HTTP {status}", scheme="ring",
                              url=self._shown, code=str(status))
        access, refresh, expires_at = _tokens_from(answer, shown=self._shown)
        hardware = await self._hardware()
        self._waiting = None
        return TokenSet(
            scheme="ring", account=self.account, access_token=SecretStr(access),
            refresh_token=SecretStr(refresh) if refresh else None, expires_at=expires_at,
            extra={"hardware_id": hardware, "client_name": client_name(self.options, hardware)},
        )

    async def aclose(self) -> None:
        """Close the connection to the OAuth server."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()
