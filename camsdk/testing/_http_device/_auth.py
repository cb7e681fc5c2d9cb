"""Authentication of `HttpDevice`: Basic, Digest (MD5, ``qop=auth``) and lockouts."""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Literal

from ._messages import Request, Response

__all__ = ["AUTH_MODES", "AuthMode", "DeviceLogin"]

AuthMode = Literal["none", "basic", "digest", "digest-or-basic"]
AUTH_MODES: frozenset[str] = frozenset({"none", "basic", "digest", "digest-or-basic"})

# Nonces remembered; an older one is answered ``stale=true`` (the client retries).
_NONCES_KEPT = 256
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
_NONCE_COUNT = re.compile(r"[0-9a-fA-F]{1,8}")

Verdict = Literal["ok", "stale", "wrong", "none"]


class DeviceLogin:
    """The device's one account: checks credentials, issues challenges, locks itself.

    ``lockout_after`` wrong credentials in a row (a right one resets the
    count) make every request get ``lockout_response`` for
    ``lockout_seconds`` by ``clock``, right password or not.
    """

    def __init__(
        self,
        *,
        username: str,
        password: str,
        realm: str,
        lockout_after: int | None,
        lockout_seconds: float,
        lockout_response: Response,
        clock: Callable[[], float],
    ) -> None:
        if lockout_after is not None and lockout_after < 1:
            raise ValueError("lockout_after must be at least 1")
        self.username = username
        self._password = password
        self.realm = realm
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self.lockout_response = lockout_response
        self._clock = clock
        # nonce -> the highest nonce count used with it (replays are stale)
        self._nonces: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._failures = 0
        self._locked_until: float | None = None
        self.failed_logins = 0
        self.lockouts = 0

    def __repr__(self) -> str:
        return f"<DeviceLogin {self.username!r} realm={self.realm!r}>"

    @property
    def locked(self) -> bool:
        """Whether a lockout is in force."""
        return self._locked_until is not None and self._clock() < self._locked_until

    def unlock(self) -> None:
        """End a lockout and forget the wrong credentials counted so far."""
        self._locked_until = None
        self._failures = 0

    def check(self, mode: AuthMode, request: Request) -> tuple[Response | None, str | None]:
        """``(None, user)`` when ``request`` may pass under ``mode``, else ``(answer, None)``."""
        if mode == "none":
            return None, None
        if self.locked:
            return self.lockout_response, None
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        verdict: Verdict = "none"
        if scheme == "basic" and mode in ("basic", "digest-or-basic"):
            verdict = self._check_basic(credentials)
        elif scheme == "digest" and mode in ("digest", "digest-or-basic"):
            verdict = self._check_digest(request, credentials)
        if verdict == "ok":
            self._failures = 0
            return None, self.username
        if verdict == "wrong":
            self.failed_logins += 1
            self._failures += 1
            if self.lockout_after is not None and self._failures >= self.lockout_after:
                self._failures = 0
                self._locked_until = self._clock() + self.lockout_seconds
                self.lockouts += 1
                return self.lockout_response, None
        return self.challenge(mode, stale=verdict == "stale"), None

    def challenge(self, mode: AuthMode, *, stale: bool = False) -> Response:
        """A 401 offering ``mode``'s schemes (Digest first), with a fresh nonce."""
        headers = []
        if mode in ("digest", "digest-or-basic"):
            nonce = secrets.token_hex(16)
            self._nonces[nonce] = 0
            while len(self._nonces) > _NONCES_KEPT:
                self._nonces.popitem(last=False)
            extra = ", stale=true" if stale else ""
            headers.append(
                (
                    "WWW-Authenticate",
                    f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", '
                    f"algorithm=MD5{extra}",
                )
            )
        if mode in ("basic", "digest-or-basic"):
            headers.append(("WWW-Authenticate", f'Basic realm="{self.realm}"'))
        return Response(401, "401 Unauthorized", headers=headers)

    def _check_basic(self, credentials: str) -> Verdict:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return "wrong"
        user, _, password = decoded.partition(":")
        same_user = hmac.compare_digest(user.encode(), self.username.encode())
        same_password = hmac.compare_digest(password.encode(), self._password.encode())
        return "ok" if same_user and same_password else "wrong"

    def _check_digest(self, request: Request, credentials: str) -> Verdict:
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _AUTH_PARAM.finditer(credentials)
        }
        nonce = params.get("nonce", "")
        qop = params.get("qop", "")
        count_text = params.get("nc", "")
        if (
            params.get("username") != self.username
            or params.get("realm") != self.realm
            or params.get("algorithm", "MD5").upper() != "MD5"
            or qop != "auth"
            or params.get("uri") != request.target
            or not _NONCE_COUNT.fullmatch(count_text)
        ):
            return "wrong"
        ha1 = _md5(f"{self.username}:{self.realm}:{self._password}")
        ha2 = _md5(f"{request.method}:{request.target}")
        expected = _md5(f"{ha1}:{nonce}:{count_text}:{params.get('cnonce', '')}:{qop}:{ha2}")
        if not hmac.compare_digest(expected, params.get("response", "")):
            return "wrong"
        # The right password: an unknown (expired) nonce or a replayed count is only stale.
        count = int(count_text, 16)
        last = self._nonces.get(nonce)
        if last is None or count <= last:
            return "stale"
        self._nonces[nonce] = count
        return "ok"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()
