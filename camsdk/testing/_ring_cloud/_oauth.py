"""The simulated cloud's accounts: OAuth with the 2FA challenge, and rotating tokens.

``POST /oauth/token``: the password grant answers 412 with ``tsv_state``
until the right ``2fa-code`` comes (each 412 is a code sent,
``code_requests``; more than ``code_limit`` a minute is a 429), a wrong
password 401, a wrong code 400. Refresh tokens die after one use (a reused
one is 400 ``invalid_grant``) and are bound to the ``hardware_id`` they were
issued to; access tokens live ``access_ttl`` seconds.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from camsdk.testing._http_device import Request, Response

__all__ = ["OAuthServer"]


class OAuthServer:
    """The account part of `RingCloud` (see the module docstring)."""

    email: str
    password: str
    code: str
    tsv_state: str
    access_ttl: float
    code_limit: int
    next_code_in: int

    def _notify(self) -> None:  # pragma: no cover - RingCloud's
        raise NotImplementedError

    def _init_accounts(self) -> None:
        self._access: dict[str, tuple[float, str]] = {}  # token -> (expiry, hardware id)
        self._refresh: dict[str, tuple[str, bool]] = {}  # token -> (hardware id, used)
        self._code_times: list[float] = []
        self.code_requests = 0
        self.password_grants = 0
        self.refreshes = 0
        self.refused_refreshes = 0
        self.failed_logins = 0
        #: Access tokens issued (in order) and those a request was accepted with.
        self.issued_access: list[str] = []
        self.used_access: set[str] = set()


    def _issue(self, hardware: str) -> dict[str, Any]:
        access = "sim-access-" + secrets.token_urlsafe(18)
        refresh = "sim-refresh-" + secrets.token_urlsafe(24)
        self._access[access] = (time.monotonic() + self.access_ttl, hardware)
        self.issued_access.append(access)
        self._refresh[refresh] = (hardware, False)
        return {"access_token": access, "refresh_token": refresh,
                "expires_in": int(self.access_ttl) if self.access_ttl >= 1 else 1,
                "scope": "client", "token_type": "Bearer"}

    def expire_access_tokens(self) -> None:
        """Every access token dies now (the next request is a 401)."""
        self._access.clear()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token dies (the account must log in again)."""
        self._refresh = {t: (hw, True) for t, (hw, _) in self._refresh.items()}

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        found = self._access.get(token)
        ok = found is not None and found[0] > time.monotonic()
        if ok:
            self.used_access.add(token)
        return ok

    async def _oauth(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except ValueError:
            return Response.json({"error": "invalid_request"}, 400)
        hardware = request.headers.get("hardware_id", "")
        grant = body.get("grant_type")
        if body.get("client_id") != "ring_official_android":
            return Response.json({"error": "invalid_client"}, 401)
        if grant == "refresh_token":
            token = str(body.get("refresh_token", ""))
            found = self._refresh.get(token)
            if found is None or found[1] or found[0] != hardware:
                self.refused_refreshes += 1
                return Response.json({"error": "invalid_grant",
                                      "error_description": "token is invalid or does not "
                                      "exists"}, 400)
            self._refresh[token] = (found[0], True)  # rotated: dead after one use
            self.refreshes += 1
            self._notify()
            return Response.json(self._issue(hardware))
        if grant != "password":
            return Response.json({"error": "unsupported_grant_type"}, 400)
        if body.get("username") != self.email or body.get("password") != self.password:
            self.failed_logins += 1
            return Response.json({"error": "access_denied",
                                  "error_description": "invalid user credentials"}, 401)
        code = request.headers.get("2fa-code")
        if code is None:
            now = time.monotonic()
            self._code_times = [t for t in self._code_times if now - t < 60] + [now]
            if len(self._code_times) > self.code_limit:
                return Response.json({"error": "too many requests"}, 429,
                                     headers={"Retry-After": "60"})
            self.code_requests += 1
            self._notify()
            return Response.json({"next_time_in_secs": self.next_code_in,
                                  "phone": "+1xxxxxxxx89", "tsv_state": self.tsv_state}, 412)
        if code != self.code:
            return Response.json({"error": "Verification Code is invalid or expired"}, 400)
        self.password_grants += 1
        self._notify()
        return Response.json(self._issue(hardware))
