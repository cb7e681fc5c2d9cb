"""OAuth 2.0 for Device Access: authorization code with PKCE, refresh, and dead grants.

The login (`NestAuthenticator`, driven by `camsdk.cloud.login` or
``camsdk login nest://<project id>``):

1. ``begin`` makes a PKCE pair (RFC 7636, S256) and a ``state``, and returns
   a `Challenge` whose ``authorization_url`` is the Partner Connections
   Manager page of the Device Access project: the user picks the cameras
   to share and allows access (scopes ``sdm.service`` and ``pubsub``);
2. Google redirects to ``redirect_uri`` with ``?code=...&state=...``; the
   user pastes the code or the whole address (``answer``), the state is
   checked and the code is exchanged, with the verifier, at the token
   endpoint;
3. the tokens are stored with the OAuth client beside them (``extra``), so
   opening a camera later needs only the project id.

A refresh answered ``invalid_grant`` is a dead grant: `ReauthRequiredError`
with the reason and what to do (the 7-day expiry of apps left in testing
mode is by far the most common cause); ``invalid_client`` is an
`AuthenticationError` about the client id and secret. Neither is retried.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import SecretStr

import camsdk
from camsdk.cloud import Challenge, TokenSet
from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    ConfigurationError,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    register_secret,
)

from ._options import NestOptions

__all__ = ["REAUTH_HINT", "SCOPES", "NestAuthenticator", "TokenEndpoint", "pkce_pair"]

SCHEME = "nest"
SCOPES = ("https://www.googleapis.com/auth/sdm.service",
          "https://www.googleapis.com/auth/pubsub")
REAUTH_HINT = (
    "log in again with: camsdk login nest://<project id>. If this happens about every "
    "7 days, the OAuth consent screen of your Google Cloud project is in 'Testing' mode, "
    "whose refresh tokens expire after 7 days: set its publishing status to 'In production'"
)
_MAX_ANSWER = 64 * 1024
_CHALLENGE_LIFE = timedelta(minutes=10)


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (86 URL-safe characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def _error_fields(response: DeviceResponse) -> tuple[str, str]:
    try:
        body = response.json()
    except CameraProtocolError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    text = str(body.get("error_description", ""))[:200]
    if isinstance(error, dict):  # some endpoints answer the API error shape
        return str(error.get("status", "")), str(error.get("message", ""))[:200]
    return str(error or ""), text


class TokenEndpoint:
    """Google's OAuth token endpoint: exchange a code, refresh a token; errors typed."""

    def __init__(self, http: DeviceHttpClient, url: str, client_id: str, client_secret: str,
                 *, shown: str) -> None:
        self._http = http
        self.url = url
        self._client_id = client_id
        self._client_secret = client_secret
        self._shown = shown
        register_secret(client_secret)

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """Trade an authorization code (and its PKCE verifier) for tokens."""
        register_secret(code)
        return await self._post({"grant_type": "authorization_code", "code": code,
                                 "code_verifier": verifier, "redirect_uri": redirect_uri},
                                "exchange the authorization code")

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new access token for ``refresh_token``."""
        return await self._post({"grant_type": "refresh_token", "refresh_token": refresh_token},
                                "refresh the access token")

    async def _post(self, form: dict[str, str], what: str) -> dict[str, Any]:
        data = {**form, "client_id": self._client_id, "client_secret": self._client_secret}
        response = await self._http.post(self.url, action=what, data=data, auth=False,
                                         check=False, headers={"Accept": "application/json"})
        if response.status >= 300:
            self._raise_for(response, what)
        answer = response.json()
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise CameraProtocolError(f"{what}: the answer has no access token",
                                      scheme=SCHEME, url=self._shown)
        register_secret(token)
        if isinstance(answer.get("refresh_token"), str):
            register_secret(answer["refresh_token"])
        result: dict[str, Any] = answer
        return result

    def _raise_for(self, response: DeviceResponse, what: str) -> None:
        error, text = _error_fields(response)
        detail = f"{error}: {text}" if text else error or f"HTTP {response.status}"
        if error == "invalid_grant":
            raise camsdk.ReauthRequiredError(
                f"{what}: Google refused the grant ({detail}); {REAUTH_HINT}",
                scheme=SCHEME, url=self._shown,
                reason=f"the refresh token or code was refused ({detail})", action=REAUTH_HINT,
            )
        if error in ("invalid_client", "unauthorized_client") or response.status == 401:
            raise AuthenticationError(
                f"{what}: Google refused the OAuth client ({detail}); check client_id and "
                "client_secret", scheme=SCHEME, url=self._shown)
        if response.status == 429:
            raise camsdk.RateLimitedError(f"{what}: Google asks to slow down (HTTP 429)",
                                          scheme=SCHEME, url=self._shown, retry_after=60.0)
        raise DeviceError(f"{what}: the token endpoint answered {detail}", scheme=SCHEME,
                          url=self._shown, code=error or str(response.status))


def token_set(answer: dict[str, Any], *, account: str, previous: TokenSet | None = None,
              extra: dict[str, str] | None = None) -> TokenSet:
    """A `TokenSet` from a token endpoint answer (the refresh token kept if not rotated)."""
    lifetime = answer.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 3600.0
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    access = SecretStr(str(answer["access_token"]))
    fresh = answer.get("refresh_token")
    if previous is not None:
        changes: dict[str, Any] = {"access_token": access, "expires_at": expires}
        if isinstance(fresh, str) and fresh:
            changes["refresh_token"] = SecretStr(fresh)
        return previous.rotated(**changes)
    if not isinstance(fresh, str) or not fresh:
        raise CameraProtocolError(
            "the token endpoint gave no refresh token (was access_type=offline lost?)",
            scheme=SCHEME)
    return TokenSet(scheme=SCHEME, account=account, access_token=access,
                    refresh_token=SecretStr(fresh), expires_at=expires, extra=extra or {})


def code_from(answer: str, state: str) -> str:
    """The authorization code in ``answer``: the code itself or the redirect address."""
    text = answer.strip()
    if len(text) > _MAX_ANSWER:
        raise ConfigurationError("the answer is too long to be a code or a URL", scheme=SCHEME)
    if "code=" not in text and "error=" not in text:
        return text
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    fields = parse_qs(query)
    if "error" in fields:
        raise AuthenticationError(f"access was not granted ({fields['error'][0][:100]})",
                                  scheme=SCHEME)
    got_state = fields.get("state", [""])[0]
    if got_state and not secrets.compare_digest(got_state, state):
        raise AuthenticationError("the redirect belongs to another login (state mismatch)",
                                  scheme=SCHEME)
    code = fields.get("code", [""])[0]
    if not code:
        raise ConfigurationError("no code= in the address given", scheme=SCHEME)
    return code


class NestAuthenticator:
    """The Device Access login steps for one project (see the module docstring)."""

    def __init__(self, *, account: str, project_id: str, client_id: str, client_secret: str,
                 options: NestOptions, config: CameraConfig | None = None) -> None:
        self.account = account
        self.project_id = project_id
        self._options = options
        self._verifier, self._challenge = pkce_pair()
        self._state = secrets.token_urlsafe(24)
        register_secret(client_secret)
        register_secret(self._verifier)
        self._client = (client_id, client_secret)
        shown = f"nest://{project_id}"
        self._http = DeviceHttpClient(
            base_url=options.token_url, scheme=SCHEME, shown_url=shown, auth="none",
            config=config, allowed_hosts={urlsplit(options.token_url).hostname or ""},
        )
        self._endpoint = TokenEndpoint(self._http, options.token_url, client_id, client_secret,
                                       shown=shown)

    def authorization_url(self) -> str:
        """The consent page to open (Partner Connections Manager of the project)."""
        query = urlencode({
            "redirect_uri": self._options.redirect_uri, "access_type": "offline",
            "prompt": "consent", "client_id": self._client[0], "response_type": "code",
            "scope": " ".join(SCOPES), "code_challenge": self._challenge,
            "code_challenge_method": "S256", "state": self._state,
        })
        return f"{self._options.authorize_url}/{self.project_id}/auth?{query}"

    async def begin(self) -> TokenSet | Challenge:
        """The OAuth challenge: open the URL, allow access, paste the code or the address."""
        return Challenge(
            kind="oauth", authorization_url=self.authorization_url(),
            message="Open this address, choose the cameras to share and allow access; then "
                    "paste the code, or the whole address the browser was sent to.",
            expires_at=datetime.now(UTC) + _CHALLENGE_LIFE,
        )

    async def answer(self, code: str) -> TokenSet | Challenge:
        """Exchange the code (or the redirect address) for tokens."""
        answer = await self._endpoint.exchange(code_from(code, self._state), self._verifier,
                                               self._options.redirect_uri)
        client_id, client_secret = self._client
        return token_set(answer, account=self.account, extra={
            "project_id": self.project_id, "client_id": client_id,
            "client_secret": client_secret, "scope": str(answer.get("scope", ""))[:500],
        })

    async def aclose(self) -> None:
        """Close the HTTP connection."""
        await self._http.aclose()
