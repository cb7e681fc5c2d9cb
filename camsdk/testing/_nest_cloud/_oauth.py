"""The simulated Google OAuth server: consent (codes with PKCE), the token endpoint, tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from camsdk.testing._http_device import Request, Response

__all__ = ["OAuthServer"]

SDM_SCOPE = "https://www.googleapis.com/auth/sdm.service"
PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
_CODE_LIFE = 600.0


@dataclass(slots=True)
class _Code:
    challenge: str
    redirect_uri: str
    scope: str
    issued: float
    used: bool = False


@dataclass(slots=True)
class _Grant:
    scope: str
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry (clock)


def _form(request: Request) -> dict[str, str]:
    fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _error(status: int, error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


class OAuthServer:
    """Codes, refresh tokens and access tokens of one OAuth client (see `NestCloud`)."""

    def __init__(self, *, client_id: str, client_secret: str, access_ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self._clock = clock
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}  # refresh token -> grant
        #: Token endpoint calls by grant type, and refusals.
        self.exchanges = 0
        self.refreshes = 0
        self.refusals = 0

    # -- consent (the browser part) ----------------------------------------------------------

    def consent(self, authorization_url: str, *, allow: bool = True) -> str:
        """What the browser ends on after the user allows access: the redirect with a code."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            raise ValueError("the authorization URL names another OAuth client")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise ValueError("the authorization URL has no S256 PKCE challenge")
        if query.get("access_type") != "offline":
            raise ValueError("without access_type=offline Google gives no refresh token")
        state = query.get("state", "")
        if not allow:
            return f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}"
        code = "4/0Asim-" + secrets.token_urlsafe(24)
        self._codes[code] = _Code(query["code_challenge"], redirect, query.get("scope", ""),
                                  self._clock())
        back = {"code": code, "state": state, "scope": query.get("scope", "")}
        return f"{redirect}?{urlencode(back)}"

    # -- tokens ------------------------------------------------------------------------------

    def issue(self, scope: str = f"{SDM_SCOPE} {PUBSUB_SCOPE}") -> dict[str, Any]:
        """A fresh grant, as the token endpoint answers it."""
        refresh = "1//sim-" + secrets.token_urlsafe(32)
        grant = self._grants[refresh] = _Grant(scope)
        answer = self._access(grant)
        answer["refresh_token"] = refresh
        return answer

    def _access(self, grant: _Grant) -> dict[str, Any]:
        token = "ya29.sim-" + secrets.token_urlsafe(32)
        grant.access[token] = self._clock() + self.access_ttl
        return {"access_token": token, "expires_in": int(self.access_ttl),
                "scope": grant.scope, "token_type": "Bearer"}

    def check(self, authorization: str, scope: str = SDM_SCOPE) -> str:
        """``""`` when ``authorization`` has a live access token with ``scope``; else why not."""
        if not authorization.startswith("Bearer "):
            return "no bearer token"
        token = authorization[len("Bearer "):]
        now = self._clock()
        for grant in self._grants.values():
            expiry = grant.access.get(token)
            if expiry is None:
                continue
            if expiry <= now:
                return "expired"
            return "" if scope in grant.scope.split() else "insufficient scope"
        return "unknown token"

    def revoke(self) -> None:
        """Every refresh and access token dies (the 7-day expiry of a testing-mode app)."""
        self._grants.clear()

    def expire_access_tokens(self) -> None:
        """Every access token lapses now (refresh tokens stay good)."""
        for grant in self._grants.values():
            grant.access = dict.fromkeys(grant.access, self._clock())

    # -- the endpoint ------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """``POST /token``: authorization_code (with the PKCE verifier) or refresh_token."""
        form = _form(request)
        if form.get("client_id") != self.client_id or form.get("client_secret") != \
                self.client_secret:
            self.refusals += 1
            return _error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token":
            grant = self._grants.get(form.get("refresh_token", ""))
            if grant is None:
                self.refusals += 1
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            self.refreshes += 1
            return Response.json(self._access(grant))
        return _error(400, "unsupported_grant_type", "Invalid grant_type")

    def _exchange(self, form: dict[str, str]) -> Response:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or self._clock() - code.issued > _CODE_LIFE:
            self.refusals += 1
            return _error(400, "invalid_grant", "Bad Request")
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        if not verifier or not secrets.compare_digest(expected, code.challenge):
            self.refusals += 1
            return _error(400, "invalid_grant", "Missing code verifier.")
        if form.get("redirect_uri") != code.redirect_uri:
            self.refusals += 1
            return _error(400, "redirect_uri_mismatch", "Bad Request")
        code.used = True
        self.exchanges += 1
        return Response.json(self.issue(code.scope or f"{SDM_SCOPE} {PUBSUB_SCOPE}"))
